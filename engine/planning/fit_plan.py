"""Fit to this machine, end to end: the dataset's token lengths (the Dataset Explorer's statistics), the
memory budget, the planner's settings and a step measured at them, as one background job or one call.
The Train tab's button, the `fit_plan` endpoint and `python -m engine plan` all come here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from engine.config.datasets import dataset_parts
from engine.config.train_config import TrainConfig
from engine.data.explorer import DatasetChoice, DatasetExplorer
from engine.env.gpus import gpu_info
from engine.errors import ModelError, TuneDeskError
from engine.jobs import JobContext, JobRegistry
from engine.models.levers import Machine
from engine.models.precision import pick_precision
from engine.planning.probe import device_flops, measure_step, measured_before, on_this_machine
from engine.runs.failures import is_oom
from engine.runs.queue import RunManager
from engine.sizing.fit import device_memory, model_shape
from engine.sizing.planner import Budget, DataShape, PlanGoal, Settled, plan_settings
from engine.sizing.timing import Timing, predict, rough_rate
from engine.text.message import Text, plain, render, say

TOKEN_SAMPLE = 2000  # rows whose token lengths the plan reads: percentiles settle well before this


@dataclass(frozen=True)
class FitRequest:
    config: TrainConfig
    goal: PlanGoal = field(default_factory=PlanGoal)
    measure: bool = True  # measure a step at the planned shapes (needs the model on this machine)
    memory_gb: float = 0.0  # 0: this machine's (the largest GPU, or the RAM available now)


@dataclass
class FitPlan:
    request: FitRequest
    settled: Settled
    budget: Budget
    timing: Timing | None
    data: DataShape | None
    notes: list[Text] = field(default_factory=list)  # what the plan could not use (no tokenizer, …)

    @property
    def config(self) -> TrainConfig:
        return self.settled.config

    def reasons(self) -> list[Text]:
        return [*self.settled.reasons, *([self.timing.reason()] if self.timing else []), *self.notes]

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"fits": self.settled.fits, "goal": self.request.goal.goal, "config": self.config.to_dict(),
                "changes": self.settled.changes, "memory": self.settled.memory.to_dict(),
                "budget": {"kind": self.budget.kind, "gb": self.budget.gb, "device": self.budget.name,
                           "gpus": self.budget.gpus, "usable_gb": round(self.budget.usable_gb, 2)},
                "time": self.timing.to_dict() if self.timing else None,
                "data": {"examples": self.data.examples, "measured_rows": len(self.data.lengths),
                         "mean_tokens": round(self.data.mean, 1),
                         "longest": self.data.lengths[-1] if self.data.lengths else 0} if self.data else None,
                "reasons": [render(r, lang) for r in self.reasons()]}


class FitPlanner:
    def __init__(self, manager: RunManager, explorer: DatasetExplorer,
                 before_probe: list[Callable[[], Any]] | None = None):
        self.manager = manager
        self.explorer = explorer
        self.jobs = JobRegistry()
        self.before_probe = before_probe or []

    def start(self, request: FitRequest) -> str:
        return self.jobs.start("fit_plan", lambda ctx: self.plan(request, ctx), meta={"goal": request.goal.goal})

    def plan(self, request: FitRequest, ctx: JobContext | None = None) -> FitPlan:
        progress = ctx.progress if ctx else (lambda fraction, message="": None)
        config = request.config
        shape = model_shape(config.model_name_or_path)
        notes: list[Text] = []
        progress(0.05, "token lengths of the dataset…")
        data = self._data(config, notes, ctx)
        budget = self._budget(config, request.memory_gb)
        settled = plan_settings(shape, config, request.goal, data, budget)
        timing = None
        if settled.fits:
            if ctx:
                ctx.check()
            rate = self._rate(settled, data, request.measure, budget, shape, progress)
            timing = predict(rate, shape, settled.setting, settled.config, data)
        progress(1.0, "planned")
        return FitPlan(request, settled, budget, timing, data, notes)

    def _data(self, config: TrainConfig, notes: list[Text], ctx: JobContext | None) -> DataShape | None:
        parts = dataset_parts(config.dataset)
        if not parts or config.method == "grpo":  # GRPO's length is its completions', not the data's
            return None
        if not on_this_machine(config):  # its tokenizer would mean downloading the model
            notes.append(say("plan.no_tokenizer", model=config.model_name_or_path))
            return None
        lengths: list[int] = []
        examples = answers = 0
        val = config.val_size
        for part in parts:
            choice = DatasetChoice(part, config.dataset_format, model=config.model_name_or_path, max_len=131072,
                                   train_on_prompt=config.train_on_prompt, mask_history=config.mask_history)
            try:
                stats = self.explorer.inspect(choice, TOKEN_SAMPLE, ctx)
            except ModelError as exc:
                notes.append(say("plan.no_lengths", detail=plain(str(exc).splitlines()[0][:200])))
                return None
            lengths += stats.total_lengths
            answers += sum(stats.answer_lengths)
            rows = min(stats.usable, config.max_samples) if config.max_samples else stats.usable
            examples += max(0, rows - (round(val * rows) if val < 1 else int(val)))  # validation rows held out
        return DataShape.of(examples, lengths, answers)

    def _budget(self, config: TrainConfig, memory_gb: float) -> Budget:
        found = gpu_info()["gpus"]
        visible = [v.strip() for v in config.cuda_visible_devices.split(",") if v.strip()]
        if visible:
            found = [g for g in found if str(g.get("index")) in visible]
        kind, gb, name = device_memory(found)
        if len(found) > 1:  # data parallel holds the whole run on every GPU: the smallest one decides
            gb = min(float(g.get("mem_total_gb", 0)) for g in found)
        precision = pick_precision(config.replace(precision="auto"))
        if memory_gb:
            gb = float(memory_gb)
        machine = Machine.here()
        return Budget(kind, gb, name, len(found) if kind == "gpu" else 0, precision, machine.cuda and machine.liger)

    def _rate(self, settled: Settled, data: DataShape | None, measure: bool, budget: Budget, shape: Any,
              progress: Any) -> Any:
        share = data.trained_share if data else 0.5
        why: Text | None = None
        if not measure:
            why = say("plan.rough_asked")
        elif self.manager.current_run_id():
            why = say("plan.rough_busy")
        elif not on_this_machine(settled.config):
            why = say("plan.rough_no_model")
        else:
            for release in self.before_probe:  # Compare Chat's models give the probe their memory, as to a run
                release()
            try:
                return measure_step(settled.config, share, self.manager.root, progress)
            except Exception as exc:  # noqa: BLE001  (the plan stands; only its time is then estimated)
                if not is_oom(exc) and not isinstance(exc, TuneDeskError):
                    raise
                why = say("plan.rough_failed", detail=plain(str(exc).strip().splitlines()[0][:200]))
        earlier = measured_before(settled)
        if earlier is not None:
            return replace(earlier, source="scaled", why=why)
        return rough_rate(shape, settled.setting, device_flops(budget.precision), budget.kind, share, why)
