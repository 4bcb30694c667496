"""After a run runs out of memory: the planner's next setting, planned for a budget a quarter below what
the failed setting was estimated to need (the estimate was too low, or something else took memory)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import TuneDeskError
from engine.sizing.fit import model_shape, setting_for
from engine.sizing.memory import TIGHT, estimate
from engine.sizing.planner import Budget, PlanGoal, plan_settings
from engine.text.message import Joined, Text, say

SHRINK = 0.75


def next_fit(config: TrainConfig, on_gpu: bool, precision: str) -> tuple[Text, dict[str, Any]] | None:
    """The message offering the planner's next setting and the fields it changes, or None where the model's
    shape is unknown here or nothing smaller fits."""
    try:
        shape = model_shape(config.model_name_or_path)
    except TuneDeskError:
        return None
    kind = "gpu" if on_gpu else "cpu"
    failed = estimate(shape, replace(setting_for(config), device=kind, precision=precision)).total_gb
    budget = Budget(kind, round(failed * SHRINK / TIGHT, 2), kind, max(1, config.nproc_per_node) if on_gpu else 0,
                    precision)
    settled = plan_settings(shape, config, PlanGoal("fastest"), None, budget)  # the run's own effective batch
    if not settled.fits or not settled.changes:
        return None
    changes = Joined(tuple(say("plan.change", field=c["field"], before=c["before"], after=c["after"])
                           for c in settled.changes), sep="text.comma")
    fix = {c["field"]: c["after"] for c in settled.changes}
    return say("plan.oom_next", budget=budget.gb, changes=changes, total=settled.memory.total_gb), fix
