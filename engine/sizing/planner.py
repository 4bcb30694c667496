"""Fit to this machine: the settings that train a model on a dataset within the memory there is, chosen
for a goal, with the reason for each choice.

The planner is pure: it reads a model's shape, the dataset's token lengths (`DataShape`, from the
Dataset Explorer's statistics), the memory budget and the precision `auto` gives here, and returns a
new `TrainConfig` with the memory estimator's breakdown. How long a step takes is `engine.sizing.timing`'s
part, measured by `engine.planning.probe`.

Goals: `fastest` (LoRA first, no gradient checkpointing where the memory allows), `quality` (full
fine-tuning first, then LoRA, then 8- and 4-bit QLoRA) and `context` (the longest max_seq_length that
fits). The effective batch (batch × accumulation × GPUs) is kept as asked."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from engine.config.field_info import REFERENCED
from engine.config.optimizers import DEFAULT_OPTIMIZER, LOW_RANK
from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.models.levers import liger_families
from engine.sizing.fit import device_memory, setting_for
from engine.sizing.memory import TIGHT, Estimate, Setting, estimate
from engine.sizing.shape import ModelShape
from engine.text.message import Text, say

GOALS = ("fastest", "quality", "context")
ORDER = {"fastest": ("lora", "qlora4", "qlora8"), "quality": ("full", "lora", "qlora8", "qlora4"),
         "context": ("lora", "qlora8", "qlora4", "full")}
SHORTEST = 256  # where the planner stops shortening max_seq_length to make a run fit
MAX_BATCH = {"gpu": 16, "cpu": 4}
# tokens per micro-step from which a device is busy: beyond it a bigger batch adds little speed
SATURATION = {"gpu": 8192, "cpu": 1024}
CHECKPOINT_COST = 1.33  # recomputing the forward pass: about a third more time per step
PACK_BELOW = 0.6  # pack when examples fill less than this share of max_seq_length on average
LENGTH_STEP = 64


@dataclass(frozen=True)
class DataShape:
    """What the planner needs of a dataset: its training examples and their token lengths (a sample)."""

    examples: int
    lengths: tuple[int, ...]
    trained_share: float = 0.5  # trained tokens / tokens, for the time per step

    @classmethod
    def of(cls, examples: int, lengths: list[int], answer_tokens: int) -> DataShape:
        """From the Dataset Explorer's token lengths (a sample) and the answer tokens among them."""
        total = sum(lengths)
        share = answer_tokens / total if total else 0.5
        return cls(examples, tuple(sorted(lengths)), round(min(1.0, max(0.05, share)), 3))

    def cover(self, share: float) -> int:
        if not self.lengths:
            return 0
        return self.lengths[min(len(self.lengths) - 1, math.ceil(share * len(self.lengths)) - 1)]

    def longer_than(self, length: int) -> float:
        return sum(1 for n in self.lengths if n > length) / len(self.lengths) if self.lengths else 0.0

    @property
    def mean(self) -> float:
        return sum(self.lengths) / len(self.lengths) if self.lengths else 0.0


@dataclass(frozen=True)
class Budget:
    """The memory a run may use: one GPU's (each of `gpus`), or the RAM available now."""

    kind: str  # gpu | cpu
    gb: float
    name: str
    gpus: int = 0
    precision: str = "fp32"  # what precision auto resolves to here
    liger: bool = False  # Liger's kernels run here (an NVIDIA GPU, the package installed)

    @property
    def usable_gb(self) -> float:
        return TIGHT * self.gb  # the estimator's "fits": a margin for fragmentation and long batches


@dataclass(frozen=True)
class PlanGoal:
    goal: str = "fastest"
    effective_batch: int = 0  # 0: the config's batch × accumulation (× GPUs)
    coverage: float = 0.99  # share of the examples max_seq_length covers

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise ConfigError(f"goal '{self.goal}': use one of {', '.join(GOALS)}")
        if not 0.5 <= self.coverage <= 1.0:
            raise ConfigError(f"coverage {self.coverage}: use a share from 0.5 to 1")
        if self.effective_batch < 0 or self.effective_batch > 4096:
            raise ConfigError(f"effective batch {self.effective_batch}: use 1 to 4096 (0 = the form's)")


@dataclass
class Settled:
    """The planner's choice: the config, the estimator's view of it and its memory."""

    config: TrainConfig
    setting: Setting
    memory: Estimate
    reasons: list[Text] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    fits: bool = True


def plan_settings(shape: ModelShape, config: TrainConfig, goal: PlanGoal, data: DataShape | None,
                  budget: Budget) -> Settled:
    nodes = max(1, config.nnodes)
    effective = goal.effective_batch or config.per_device_train_batch_size * config.gradient_accumulation_steps * \
        max(1, config.nproc_per_node) * nodes
    # several GPUs train in data parallel (DDP), each holding the whole model, as many as divide the effective
    # batch; GRPO runs in one process, and QLoRA's quantized base loads on one GPU
    here = budget.gpus if budget.kind == "gpu" and budget.gpus > 1 and config.method != "grpo" else 1

    def gpus_for(method: str) -> int:
        if method.startswith("qlora"):
            return 1
        return max(g for g in range(1, here + 1) if effective % (g * nodes) == 0 or g == 1)

    allowed = _allowed_batches(config)
    # precision auto is what it gives here; fp16 on a CPU (hundreds of times slower) is replaced by it
    cpu_fp16 = budget.kind == "cpu" and config.precision == "fp16"
    precision = budget.precision if config.precision == "auto" or cpu_fp16 else config.precision
    # Liger's kernels, where they run and know the model: less memory and more speed, nothing lost
    liger = config.use_liger_kernel or (budget.liger and shape.family in liger_families())
    base = replace(setting_for(config), device=budget.kind, precision=precision, liger=liger)
    reasons: list[Text] = []
    methods = [m for m in ORDER[goal.goal] if not (m == "full" and config.method in REFERENCED)]
    if config.method in REFERENCED and goal.goal == "quality":
        reasons.append(say("plan.method_reference", stage=config.method.upper()))
    if config.method == "grpo":
        methods = [m for m in methods if m != "full"]
    if config.create_new_adapter and config.adapter_name_or_path.strip():  # stacking merges into a full base
        methods = [m for m in methods if not m.startswith("qlora")]
    length_reason, length = _length(config, goal, data, shape)

    if goal.goal == "context":
        found = _longest(shape, base, methods, budget, data, shape.context or 32768, allowed)
    else:
        found = None
        skipped: list[tuple[str, Text]] = []
        for method in methods:
            found = _batch(shape, replace(base, method=method, max_len=length), effective // nodes,
                           gpus_for(method), budget, allowed)
            if found:
                break
            need = estimate(shape, replace(base, method=method, max_len=length, batch=1,
                                           gradient_checkpointing=True)).total_gb
            skipped.append((method, say("plan.method_skipped", method=_label(method), need=need)))
        shorter = length
        while not found and shorter > SHORTEST:  # nothing fits this long: the longest that fits, in method order
            shorter = max(SHORTEST, shorter // 2)
            found = next((f for m in methods if (f := _batch(shape, replace(base, method=m, max_len=shorter),
                                                              effective // nodes, gpus_for(m), budget, allowed))),
                         None)
            if found and data and data.lengths:
                length_reason = say("plan.length_cut", length=shorter, before=length,
                                    share=round(100 * data.longer_than(shorter), 1))
            elif found:
                length_reason = say("plan.length_cut_given", length=shorter, before=length)
        if found:  # the methods tried before the chosen one, and what they would need
            reasons.extend(why for m, why in skipped if methods.index(m) < methods.index(found[0].method))
    if not found:
        smallest = estimate(shape, replace(base, method="qlora4", batch=1, gradient_checkpointing=True,
                                           max_len=min(length, 256)))
        reasons.append(say("plan.none_fits", budget=budget.gb, length=min(length, 256), need=smallest.total_gb))
        return Settled(config, base, smallest, reasons, fits=False)
    setting, memory, why_batch = found
    trainable = memory.trainable_params
    key = {"fastest": "plan.method_fastest", "quality": "plan.method_quality",
           "context": "plan.method_context"}[goal.goal]
    reasons.insert(0, say(key, method=_label(setting.method), trainable=_count(trainable),
                          params=_count(memory.params)))
    if goal.goal == "context":
        limit = data.lengths[-1] if data and data.lengths else (shape.context or 32768)
        share = data.longer_than(setting.max_len) if data else 0.0
        capped = share > 1 - goal.coverage
        reasons.append(say("plan.length_capped", length=setting.max_len, share=round(100 * share, 1)) if capped
                       else say("plan.length_context", length=setting.max_len, limit=limit))
    else:
        reasons.append(length_reason)
    reasons.extend(why_batch)

    gpus = gpus_for(setting.method)
    accumulation = max(1, effective // (setting.batch * gpus * nodes))
    reached = setting.batch * accumulation * gpus * nodes
    values: dict[str, Any] = {
        "finetuning_type": "qlora" if setting.method.startswith("qlora") else setting.method,
        "max_seq_length": setting.max_len, "per_device_train_batch_size": setting.batch,
        "gradient_accumulation_steps": accumulation, "gradient_checkpointing": setting.gradient_checkpointing,
        "precision": "auto" if cpu_fp16 else config.precision,
    }
    if setting.method.startswith("qlora"):
        values["quantization_bit"] = int(setting.method[-1])
    # knobs the chosen method refuses go back to their defaults
    if (config.lora_init == "loftq" and setting.method != "qlora4") or (
            config.lora_init in ("pissa", "olora") and setting.method.startswith("qlora")):
        values["lora_init"] = "default"
    if config.optim in LOW_RANK and setting.method != "full":
        values["optim"] = DEFAULT_OPTIMIZER
    values["nproc_per_node"] = gpus
    if gpus > 1:
        reasons.append(say("plan.devices", gpus=gpus))
    reasons.append(say("plan.batch", batch=setting.batch, accumulation=accumulation, effective=reached,
                       devices=say("plan.batch_devices", gpus=gpus) if gpus > 1 else ""))
    if reached != effective:
        reasons.append(say("plan.batch_rounded", asked=effective, reached=reached))
    if config.method in ("sft", "pt") and data and data.lengths:
        fill = min(data.mean, setting.max_len) / setting.max_len
        values["packing"] = fill < PACK_BELOW
        reasons.append(say("plan.packing_on", mean=round(data.mean), length=setting.max_len,
                           waste=round(100 * (1 - fill))) if values["packing"] else
                       say("plan.packing_off", fill=round(100 * fill)))
    if liger and not config.use_liger_kernel:
        values["use_liger_kernel"] = True
        reasons.append(say("plan.liger"))
    elif config.method in ("sft", "pt") and not config.trained_logits_only and not liger:
        values["trained_logits_only"] = True
        reasons.append(say("plan.trained_logits"))
    if values["precision"] == "auto":
        reasons.append(say("plan.precision", precision=budget.precision))
    if budget.kind == "gpu" and config.precision == "fp32":
        reasons.append(say("plan.precision_kept", precision=config.precision))
    device = say("plan.ram") if budget.kind == "cpu" else budget.name
    reasons.append(say("plan.memory", total=memory.total_gb, budget=budget.gb, device=device,
                       margin=round(100 * (1 - TIGHT))))
    planned = TrainConfig.from_dict({**config.to_dict(), **values})
    changes = [{"field": name, "before": getattr(config, name), "after": getattr(planned, name)}
               for name in values if getattr(config, name) != getattr(planned, name)]
    return Settled(planned, setting, memory, reasons, changes)


def machine_budget(gpus: list[dict[str, Any]]) -> Budget:
    """This machine as the catalogue tables plan for it: bf16 on a GPU, fp32 on a CPU (no measurement)."""
    kind, gb, name = device_memory(gpus)
    return Budget(kind, gb, name, len(gpus) if kind == "gpu" else 0, "bf16" if kind == "gpu" else "fp32")


def quick_plan(shape: ModelShape, budget: Budget, max_len: int = 1024, effective: int = 16) -> dict[str, Any] | None:
    """The fastest plan for a model without its data (the form's length), as the Model Hub's model page and
    the Environment tab's table show it; None where nothing fits."""
    settled = plan_settings(shape, TrainConfig(max_seq_length=max_len), PlanGoal("fastest", effective), None, budget)
    if not settled.fits:
        return None
    c = settled.config
    method = f"qlora{c.quantization_bit}" if c.finetuning_type == "qlora" else c.finetuning_type
    text = say("plan.summary", method=_label(method), batch=c.per_device_train_batch_size,
               accumulation=c.gradient_accumulation_steps, length=c.max_seq_length, total=settled.memory.total_gb,
               checkpointing=say("plan.summary_checkpointing") if c.gradient_checkpointing else "")
    return {"method": method, "max_seq_length": c.max_seq_length, "batch": c.per_device_train_batch_size,
            "accumulation": c.gradient_accumulation_steps, "gradient_checkpointing": c.gradient_checkpointing,
            "gb": settled.memory.total_gb, "text": text.to_dict()}


def _length(config: TrainConfig, goal: PlanGoal, data: DataShape | None, shape: ModelShape) -> tuple[Text, int]:
    if not data or not data.lengths:
        return say("plan.length_given", length=config.max_seq_length), config.max_seq_length
    covered = data.cover(goal.coverage)
    length = max(LENGTH_STEP, -(-covered // LENGTH_STEP) * LENGTH_STEP)
    if shape.context:
        length = min(length, shape.context)
    return say("plan.length_cover", length=length, share=round(100 * (1 - data.longer_than(length)), 1),
               longest=data.lengths[-1]), length


def _fits(shape: ModelShape, setting: Setting, budget: Budget) -> Estimate | None:
    result = estimate(shape, setting)
    return result if result.total_gb <= budget.usable_gb else None


def _allowed_batches(config: TrainConfig) -> Callable[[int], bool]:
    """Batches the method accepts: KTO estimates its KL term from the other answers in a batch (2 or more),
    GRPO's batch counts completions (a multiple of its generations per prompt)."""
    if config.method == "kto":
        return lambda d: d >= 2
    if config.method == "grpo":
        return lambda d: d % config.grpo_num_generations == 0
    return lambda d: True


def _batch(shape: ModelShape, setting: Setting, effective: int, gpus: int, budget: Budget,
           allowed: Callable[[int], bool]) -> tuple[Setting, Estimate, list[Text]] | None:
    """The batch (a divisor of the per-device share of the effective batch) and checkpointing that train
    fastest within the budget: speed grows with tokens per step until the device is busy, and
    checkpointing costs a third more time."""
    per_device = max(1, effective // gpus)
    smallest = next((d for d in range(1, per_device + 1) if allowed(d)), per_device)
    cap = max(MAX_BATCH[budget.kind], smallest)
    divisors = [d for d in range(1, min(per_device, cap) + 1) if per_device % d == 0 and allowed(d)]

    def speed(d: int, checkpointing: bool) -> float:
        return min(1.0, d * setting.max_len / SATURATION[budget.kind]) ** 0.5 / (
            CHECKPOINT_COST if checkpointing else 1.0)

    modes: dict[bool, tuple[Setting, Estimate, int]] = {}  # checkpointing → (choice, memory, largest that fits)
    for checkpointing in (False, True):
        fitting = [(d, r) for d in divisors if (r := _fits(shape, replace(setting, batch=d,
                                                                          gradient_checkpointing=checkpointing),
                                                             budget))]
        if fitting:
            top = max(speed(d, checkpointing) for d, _ in fitting)
            # the smallest batch that is as fast: a larger one only takes memory
            d, result = next((d, r) for d, r in fitting if speed(d, checkpointing) >= top * 0.999)
            modes[checkpointing] = (replace(setting, batch=d, gradient_checkpointing=checkpointing), result,
                                    fitting[-1][0])
    if not modes:
        return None
    use = max(modes, key=lambda c: (speed(modes[c][0].batch, c), not c))
    chosen, result, largest = modes[use]
    reasons: list[Text] = []
    if chosen.gradient_checkpointing:
        if False not in modes:
            need = estimate(shape, replace(setting, batch=1, gradient_checkpointing=False)).total_gb
            reasons.append(say("plan.checkpointing_on", batch=1, need=need))
        else:
            reasons.append(say("plan.checkpointing_faster", batch=chosen.batch, without=modes[False][0].batch))
    else:
        reasons.append(say("plan.checkpointing_off"))
    bigger = next((d for d in divisors if d > largest), None)
    if chosen.batch < largest:
        reasons.append(say("plan.batch_enough", batch=chosen.batch, tokens=chosen.batch * setting.max_len))
    elif bigger:
        need = estimate(shape, replace(chosen, batch=bigger)).total_gb
        reasons.append(say("plan.batch_limited", bigger=bigger, need=need))
    return chosen, result, reasons


def _longest(shape: ModelShape, base: Setting, methods: list[str], budget: Budget, data: DataShape | None,
             context: int, allowed: Callable[[int], bool]) -> tuple[Setting, Estimate, list[Text]] | None:
    """The method and length that reach furthest with batch 1 and checkpointing; the quality order breaks ties."""
    limit = min(context, data.lengths[-1] if data and data.lengths else context)
    limit = max(LENGTH_STEP, -(-limit // LENGTH_STEP) * LENGTH_STEP)
    batch = next(d for d in range(1, 4097) if allowed(d))
    best: tuple[int, Setting, Estimate] | None = None
    for method in methods:
        low, high = 0, limit // LENGTH_STEP
        while low < high:  # the largest multiple of LENGTH_STEP that fits
            mid = (low + high + 1) // 2
            if _fits(shape, replace(base, method=method, batch=batch, gradient_checkpointing=True,
                                    max_len=mid * LENGTH_STEP), budget):
                low = mid
            else:
                high = mid - 1
        if low == 0:
            continue
        length = low * LENGTH_STEP
        if best is None or length > best[0]:
            chosen = replace(base, method=method, batch=batch, gradient_checkpointing=True, max_len=length)
            best = (length, chosen, estimate(shape, chosen))
    if best is None:
        return None
    _, chosen, result = best
    without = _fits(shape, replace(chosen, gradient_checkpointing=False), budget)
    if without:
        return replace(chosen, gradient_checkpointing=False), without, [say("plan.checkpointing_off")]
    need = estimate(shape, replace(chosen, gradient_checkpointing=False)).total_gb
    return chosen, result, [say("plan.checkpointing_on", batch=batch, need=need)]


def _label(method: str) -> Text:
    return say(f"plan.label_{method}")


def _count(n: int) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
