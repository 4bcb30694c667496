"""Several runs side by side: each one's curves (by step and by tokens seen), the config fields that
differ between them, and their final and best losses with the scores of their comparison reports. Read
from the run directories only, so a finished run and one still training compare alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.config.field_info import LOCATION_FIELDS, VERSION_KEY
from engine.errors import RunError
from engine.runs.rundir import RunDir, read_json

# the curves a comparison overlays: metric key in metrics.jsonl → what it is
CURVES = ("loss", "eval_loss", "lr", "reward", "rewards_margins", "rewards_accuracies", "grad_norm")
# fields that name where a run lives, not how it trains: never a difference worth showing
NOT_SETTINGS = {*LOCATION_FIELDS, VERSION_KEY}
MAX_RUNS = 8


@dataclass
class Curve:
    step: list[int] = field(default_factory=list)
    tokens: list[int | None] = field(default_factory=list)
    value: list[float] = field(default_factory=list)


@dataclass
class RunSummary:
    run_id: str
    state: str
    method: str
    curves: dict[str, Curve]
    final_loss: float | None
    best_eval_loss: float | None
    best_eval_step: int | None
    scores: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "state": self.state, "method": self.method, "final_loss": self.final_loss,
                "best_eval_loss": self.best_eval_loss, "best_eval_step": self.best_eval_step, "scores": self.scores,
                "curves": {key: vars(curve) for key, curve in self.curves.items()}}


def _settings(run: RunDir) -> dict[str, Any]:
    """The run's config as written (a config this TuneDesk would no longer accept still compares)."""
    try:
        data = yaml.safe_load(run.config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return {key: value for key, value in data.items() if key not in NOT_SETTINGS} if isinstance(data, dict) else {}


def _curves(metrics: list[dict[str, Any]]) -> dict[str, Curve]:
    curves: dict[str, Curve] = {}
    for event in metrics:
        if event.get("type") == "summary":
            continue
        for key in CURVES:
            value = event.get(key)
            if isinstance(value, (int, float)):
                curve = curves.setdefault(key, Curve())
                curve.step.append(int(event.get("step", 0)))
                curve.tokens.append(event.get("tokens_seen"))
                curve.value.append(float(value))
    return curves


def report_scores(run: RunDir) -> dict[str, Any]:
    """This run's figures from the comparison report in its folder, where one was made: the side that is this
    run (a report is saved with the last side naming a run, which may be the left one)."""
    report = read_json(run.path / "comparison.json", {}) or {}
    summary = report.get("summary") or {}
    side = next((s for s in ("right", "left") if str(report.get(f"{s}_spec", "")).split("@")[0] ==
                 f"run:{run.run_id}"), None)
    if side is None:
        return {}
    scores = {key: summary.get(f"{side}_{key}") for key in ("bleu4", "rougeL", "perplexity")}
    for key in ("task_right", "general_right", "general_leaks"):
        if isinstance(summary.get(key), dict):
            scores[key] = summary[key].get(side)
    scores = {key: value for key, value in scores.items() if value is not None}
    if scores and summary.get("task_questions") is not None:
        scores["task_questions"] = summary["task_questions"]
    return scores


def summarise_run(run: RunDir, settings: dict[str, Any] | None = None) -> RunSummary:
    status, curves = run.status(), _curves(run.metrics())
    evals = curves.get("eval_loss")
    best = min(range(len(evals.value)), key=evals.value.__getitem__) if evals and evals.value else None
    settings = _settings(run) if settings is None else settings
    loss = curves.get("loss")
    return RunSummary(
        run.run_id, status.get("state", "?"), f"{settings.get('method', '?')}/{settings.get('finetuning_type', '?')}",
        curves, status["final_loss"] if status.get("final_loss") is not None else (loss.value[-1] if loss and loss.value
                                                                                   else None),
        evals.value[best] if best is not None else None, evals.step[best] if best is not None else None,
        report_scores(run))


def differences(settings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The config fields whose values are not the same in every run, in the config's order."""
    names: list[str] = []
    for values in settings.values():
        names += [name for name in values if name not in names]
    out = []
    for name in names:
        values = {run_id: config.get(name) for run_id, config in settings.items()}
        if len({yaml.safe_dump(v) for v in values.values()}) > 1:
            out.append({"field": name, "values": values})
    return out


def compare_runs(runs: list[RunDir]) -> dict[str, Any]:
    """`runs` as RunDirs the caller has looked up (so each id is checked where ids are checked)."""
    ids = [run.run_id for run in runs]
    if len(runs) < 2:
        raise RunError(f"compare runs: pick at least two runs (got {len(runs)})")
    if len(set(ids)) != len(ids):
        raise RunError("compare runs: the same run is picked twice; pick different runs")
    if len(runs) > MAX_RUNS:
        raise RunError(f"compare runs: at most {MAX_RUNS} runs at once (got {len(runs)}); untick some")
    settings = {run.run_id: _settings(run) for run in runs}
    return {"runs": [summarise_run(run, settings[run.run_id]).to_dict() for run in runs],
            "differences": differences(settings)}
