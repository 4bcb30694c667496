"""The Train tab's live view: progress, alerts, loss / reward / training / hardware charts, the log, the
runs table, checkpoints and the selected run's config.

It belongs to no event: a gr.Timer polls the engine's shared state, so a refreshed page or a second
browser shows the running job as it is. Per-browser state (`RunView`) is only which run is shown and
what was last drawn, to skip redrawing what did not change."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from engine.evaluation.batch import summary_line
from engine.runs.labels import matches
from engine.runs.rundir import ACTIVE, loss_text, read_json
from engine.text.message import render
from tabs.charts import gradient_figure, hardware_figure, loss_figure, reward_figure, training_figure
from tabs.context import AppContext
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.widgets import WidgetGroup

# On a 2-core machine every redraw in the browser competes with training; both are tunable.
HARDWARE_EVERY_S = float(os.environ.get("TUNEDESK_HARDWARE_EVERY_S", "5"))
RUN_COLUMNS = ("col_run", "col_name", "col_model", "col_method", "col_state", "col_progress", "col_loss", "col_started",
               "col_duration")


@dataclass
class RunView:
    """What one browser shows: the selected run, the state it last saw that run in (a run that just
    finished or failed gets a toast once), and a signature per panel of what it last drew."""

    run: str | None = None
    seen_state: tuple[str, str | None] | None = None
    drawn: dict[str, Any] = field(default_factory=dict)
    hardware_at: float = 0.0

    def showing(self, run_id: str | None) -> RunView:
        """This view switched to `run_id`, with everything to be drawn afresh."""
        return replace(self, run=run_id, drawn={})

    def redrawn(self) -> RunView:
        return replace(self, drawn={}, hardware_at=0.0)

    def changed(self, panel: str, signature: Any) -> bool:
        """True (and remembered) when what `panel` shows differs from what this browser last drew."""
        if self.drawn.get(panel) == signature:
            return False
        self.drawn[panel] = signature
        return True


@dataclass
class LiveWidgets(WidgetGroup):
    """The live view's outputs, in the order `refresh` fills them."""

    view: gr.State
    selected: gr.Dropdown
    progress: gr.HTML
    alerts: gr.Markdown
    loss: gr.Plot
    reward: gr.Plot
    training: gr.Plot
    gradients: gr.Plot
    hardware: gr.Plot
    log: gr.Textbox
    runs: gr.Dataframe
    checkpoints: gr.Dropdown
    config: gr.Code
    retry: gr.Button  # a run that ran out of memory: restart it with the fit planner's next setting

    def update(self, **values: Any) -> list[Any]:
        """One value per output, by name; every output not named keeps what it shows."""
        names = [f for f in self.__dataclass_fields__]
        unknown = set(values) - set(names)
        if unknown:
            raise KeyError(f"not a live output: {', '.join(sorted(unknown))}")
        return [values.get(name, gr.skip()) for name in names]


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def runs_frame(runs: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    rows = []
    for r in runs:
        started = time.strftime("%m-%d %H:%M", time.localtime(r["started_at"])) if r["started_at"] else "–"
        loss = r["final_loss"] if r["final_loss"] is not None else r["last_loss"]
        label = " ".join([r.get("name") or "", *(f"#{tag}" for tag in r.get("tags") or [])]).strip()
        rows.append([r["run_id"], label, Path(str(r["model"])).name, r["method"], r["state"],
                     f"{r['step']}/{r['max_steps']} ({r['progress'] * 100:.0f}%)",
                     loss_text(loss), started, _fmt_s(r["duration_s"])])
    return pd.DataFrame(rows, columns=[t(c, lang) for c in RUN_COLUMNS])


def progress_html(status: dict[str, Any], lang: str) -> str:
    state = status.get("state", "")
    started = status.get("started_at")
    elapsed = ((status.get("ended_at") or time.time()) - started) if started else None
    text = t("progress", lang, step=status.get("step", 0), total=status.get("max_steps") or "?",
             epoch=f"{status.get('epoch') or 0:.2f}", elapsed=_fmt_s(elapsed),
             eta=_fmt_s(status.get("eta_s")) if state == "running" else "–",
             state=t(f"state_{state}", lang) if state else "")
    return bar_html("run-progress", float(status.get("progress") or 0), text, state,
                    data={"step": status.get("step", 0)})


def alerts_markdown(status: dict[str, Any], lang: str) -> str:
    lines = [f"⚠️ {render(a.get('text') or a['message'], lang)}" for a in status.get("alerts", [])]
    state = status.get("state")
    if state == "failed":
        title = t("alert_oom", lang) if "out of memory" in str(status.get("error")) else t("alert_failed", lang)
        lines.insert(0, f"❌ **{title}:** {failure_reason(status, lang)}  \n💡 "
                        f"{render(status.get('suggestion_text') or status.get('suggestion'), lang)}")
    elif state == "completed":
        lines.insert(0, f"✅ **{t('alert_done', lang)}** — {t('col_loss', lang)} {loss_text(status.get('final_loss'))}")
    elif state == "stopped":
        lines.insert(0, f"⏸️ {t('alert_stopped', lang)}")
    return "\n\n".join(lines)


def failure_reason(status: dict[str, Any], lang: str) -> str:
    """Why the run failed, in the reader's language where status.json holds the message."""
    return render(status.get("error_text") or status.get("error"), lang)


def refresh(ctx: AppContext, widgets: LiveWidgets, lang: str, view: RunView, query: str = "") -> list[Any]:
    """Everything the live view shows; the runs table holds the runs matching `query` (the search box)."""
    manager = ctx.door.manager
    runs = manager.list_runs()
    ids = [r["run_id"] for r in runs]
    run_id = view.run if view.run in ids else manager.current_run_id() or (ids[0] if ids else None)
    view = replace(view, run=run_id, drawn=dict(view.drawn))
    out: dict[str, Any] = {}
    shown = [r for r in runs if matches(r, query)]
    if view.changed("table", ([(r["run_id"], r["state"], r["step"], r["name"], r["tags"]) for r in shown], lang)):
        out["runs"] = runs_frame(shown, lang)
    if view.changed("ids", (ids, run_id)):
        out["selected"] = gr.update(choices=ids, value=run_id)
    if time.time() - view.hardware_at >= HARDWARE_EVERY_S or view.changed("hardware_lang", lang):
        out["hardware"], view.hardware_at = hardware_figure(ctx.monitor.snapshot(), lang), time.time()
    if run_id is None:
        if view.changed("charts", (None, lang)):
            out.update(loss=loss_figure([], lang), reward=gr.update(visible=False), training=training_figure([], lang),
                       gradients=gr.update(visible=False))
        if view.changed("retry", None):
            out["retry"] = gr.update(visible=False)
        return widgets.update(view=view, progress=t("no_run", lang), alerts="", log="", config="", **out)
    run = manager.run(run_id)
    status = run.status()
    metrics = manager.metrics(run_id)
    if view.changed("charts", (run_id, len(metrics), lang)):
        out.update(loss=loss_figure(metrics, lang), reward=_reward_update(metrics, lang),
                   training=training_figure(metrics, lang), gradients=_shown(gradient_figure(metrics, lang)))
    log_size = run.log_path.stat().st_size if run.log_path.exists() else 0
    if view.changed("log", (run_id, log_size)):
        out["log"] = run.log_tail(60)
    checkpoints = [p.name for p in run.checkpoints()]
    if view.changed("checkpoints", (run_id, checkpoints)):
        out["checkpoints"] = gr.update(choices=checkpoints, value=checkpoints[-1] if checkpoints else None)
    if view.changed("config", run_id):
        out["config"] = run.config_path.read_text(encoding="utf-8")
    if view.seen_state == (run_id, "running") and status.get("state") not in ACTIVE:
        if status.get("state") == "completed":
            gr.Info(t("done", lang, run_id=run_id, loss=loss_text(status.get("final_loss"))))
        elif status.get("state") == "failed":
            gr.Warning(t("failed", lang, run_id=run_id, error=failure_reason(status, lang)))
    view.seen_state = (run_id, status.get("state"))
    bar = progress_html(status, lang)
    notes = alerts_markdown(status, lang)
    report = run.path / "comparison.json"
    if status.get("state") == "completed" and report.is_file():
        summary = (read_json(report, {}) or {}).get("summary") or {}
        notes += f"\n\n📊 {t('comparison_line', lang)}: {summary_line(summary)}"
    retry = status.get("state") == "failed" and bool(status.get("retry_with"))
    if view.changed("retry", (run_id, retry)):
        out["retry"] = gr.update(visible=retry)
    if view.changed("bar", bar):
        out["progress"] = bar
    if view.changed("notes", notes):
        out["alerts"] = notes
    return widgets.update(view=view, **out)


def _reward_update(metrics: list[dict[str, Any]], lang: str) -> Any:
    return _shown(reward_figure(metrics, lang))


def _shown(figure: Any) -> Any:
    return gr.update(value=figure, visible=True) if figure is not None else gr.update(visible=False)
