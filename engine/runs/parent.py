"""Where a run starts from when it continues another run's adapter: `adapter_name_or_path` names a run
(`run:<id>`, its final adapter, or `run:<id>@checkpoint-N`) or a folder holding an adapter. The run
records its parent in status.json, so its lineage can be read back from the run directory alone."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ModelError
from engine.locations import project_path
from engine.runs.rundir import RunDir


@dataclass(frozen=True)
class Parent:
    spec: str
    folder: str  # the adapter's folder
    run_id: str = ""  # the parent run, when named as one
    point: str = "final"  # final or checkpoint-N
    below: tuple[str, ...] = ()  # adapters the parent's own adapter sits on (merged into the base first)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "below": list(self.below)}

    def stack(self, new_adapter: bool) -> list[str]:
        """The adapters merged into the base before this run's adapter: the parent's own, and the parent
        itself when this run trains a new adapter on top of it."""
        return [*self.below, self.folder] if new_adapter else list(self.below)


def parent_adapter(config: TrainConfig, runs_dir: Path) -> Parent | None:
    spec = config.adapter_name_or_path.strip()
    if not spec or not config.uses_lora:
        return None
    if spec.startswith("run:"):
        run_id, _, point = spec[4:].partition("@")
        run_id, point = run_id.strip(), point.strip() or "final"
        run = RunDir(runs_dir / run_id)
        if not run_id or not run.config_path.is_file():
            raise ModelError(f"adapter_name_or_path: no run {run_id!r} in {runs_dir}; name a finished run as "
                             "run:<run id> (the Train tab lists them)")
        parent_model = run.config().model_name_or_path
        if parent_model != config.model_name_or_path:
            raise ModelError(f"adapter_name_or_path: run {run_id} trained an adapter for {parent_model}, and this "
                             f"run's model is {config.model_name_or_path}; choose the same model to continue it")
        folder = run.path / point
        if not (folder / "adapter_config.json").is_file():
            has = ", ".join(p.name for p in run.checkpoints()) or "no checkpoint"
            raise ModelError(f"adapter_name_or_path: run {run_id} has no adapter in {point} (it has {has}; a "
                             "full or freeze run has no adapter to continue)")
        below = tuple(run.status().get("stack") or ())  # the parent run stacked on others itself
        return Parent(spec, str(folder), run_id, point, below)
    folder = project_path(spec)
    if not (folder / "adapter_config.json").is_file():
        raise ModelError(f"adapter_name_or_path: {spec} holds no adapter_config.json; give a folder saved by a "
                         "LoRA run (final/ or checkpoint-N/) or run:<run id>")
    return Parent(spec, str(folder))


def adapter_settings(folder: str) -> str:
    """The parent adapter's own LoRA settings, for the run's log: they, not this run's, shape the adapter."""
    saved = json.loads((Path(folder) / "adapter_config.json").read_text(encoding="utf-8"))
    parts = [f"r={saved.get('r')}", f"alpha={saved.get('lora_alpha')}"]
    if saved.get("use_dora"):
        parts.append("DoRA")
    if saved.get("use_rslora"):
        parts.append("rsLoRA")
    return ", ".join(parts)
