"""How long a planned run takes: a measured (or estimated) step at the planned shapes, scaled by FLOPs
per token to the lengths the data really has, times the steps the run will make."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.sizing.memory import Setting
from engine.sizing.planner import DataShape
from engine.sizing.shape import ModelShape
from engine.text.message import Text, say

CPU_MFU = 0.45  # share of the matmul peak a CPU training step reaches (measured 45–50% on SmolLM2 LoRA)
GPU_MFU = 0.35


@dataclass(frozen=True)
class StepRate:
    """Seconds of one micro-step (forward, backward, optimizer step) at batch × length."""

    seconds: float
    batch: int
    length: int
    source: str  # measured | scaled (from a step of the same model measured here) | rough
    method: str = "lora"  # full | lora | qlora4 | qlora8: what the step trained
    checkpointing: bool = False
    why: Text | None = None  # not measured at these settings: why
    peak_gb: float | None = None  # a measured step: the peak memory seen while it ran


@dataclass
class Timing:
    step_seconds: float
    steps: int
    total_seconds: float
    tokens_per_second: float
    rate: StepRate

    def reason(self) -> Text:
        if not self.steps:  # no dataset to count steps from, and no max_steps
            return say("plan.time_step", step=_round(self.step_seconds), how=say(f"plan.how_{self.rate.source}"))
        if self.rate.source == "scaled":
            return say("plan.time_scaled", step=_round(self.step_seconds), steps=self.steps,
                       total=duration(self.total_seconds), why=self.rate.why or "")
        if self.rate.source == "measured":
            return say("plan.time_measured", step=_round(self.step_seconds), tokens=round(self.tokens_per_second),
                       steps=self.steps, total=duration(self.total_seconds))
        return say("plan.time_rough", step=_round(self.step_seconds), steps=self.steps,
                   total=duration(self.total_seconds), why=self.rate.why or "")

    def to_dict(self) -> dict[str, Any]:
        return {"step_seconds": _round(self.step_seconds), "steps": self.steps,
                "total_seconds": round(self.total_seconds, 1), "tokens_per_second": round(self.tokens_per_second, 1),
                "source": self.rate.source, "probe": {"seconds": round(self.rate.seconds, 3), "batch": self.rate.batch,
                                                      "length": self.rate.length, "peak_gb": self.rate.peak_gb}}


def flops_per_token(shape: ModelShape, length: int, method: str, checkpointing: bool, trained_share: float) -> float:
    """Training FLOPs of one token: the forward pass (linear layers, causal attention, the output layer at
    trained tokens), a backward pass twice the forward where weights are trained and once where only
    inputs need gradients (LoRA), and one more forward of the layers with checkpointing."""
    attention = 2 * shape.layers * shape.heads * shape.dim * length  # QKᵀ and AV over half the positions
    body = 2 * shape.linear_params + attention
    head = 2 * shape.vocab * shape.hidden * trained_share
    backward = 2.0 if method in ("full", "freeze") else 1.0
    return (body + head) * (1 + backward) + (body if checkpointing else 0.0)


def padded_length(data: DataShape | None, length: int, batch: int, packing: bool) -> float:
    """The width of a batch: max_seq_length when packed, else the expected longest of `batch` examples."""
    if packing or not data or not data.lengths:
        return float(length)
    n = len(data.lengths)
    capped = [min(x, length) for x in data.lengths]
    return sum(x * ((i / n) ** batch - ((i - 1) / n) ** batch) for i, x in enumerate(capped, start=1))


def predict(rate: StepRate, shape: ModelShape, setting: Setting, config: Any, data: DataShape | None) -> Timing:
    share = data.trained_share if data else 0.5
    width = padded_length(data, setting.max_len, setting.batch, config.packing)

    pairs = 2 if config.method in ("dpo", "orpo", "simpo") else 1  # chosen and rejected in one step
    reference = 1 + 1 / 3 if config.method in ("dpo", "kto") else 1.0  # the reference model's forward pass
    micro = scale(rate, shape, setting.method, setting.gradient_checkpointing, setting.batch, width, share) \
        * pairs * reference
    accumulation = config.gradient_accumulation_steps
    step = micro * accumulation
    gpus = max(1, config.nproc_per_node)
    real = min(data.mean, setting.max_len) if data and data.lengths else float(setting.max_len)
    if data and data.examples:
        units = math.ceil(data.examples * real / setting.max_len) if config.packing else data.examples
        per_epoch = max(1, math.ceil(units / (setting.batch * accumulation * gpus)))
        steps = config.max_steps if config.max_steps > 0 else max(1, math.ceil(per_epoch * config.num_train_epochs))
    else:
        steps = max(0, config.max_steps)
    row_tokens = setting.max_len if config.packing else real  # a packed row is filled to max_seq_length
    tokens = setting.batch * row_tokens * pairs * gpus / micro if micro else 0.0
    return Timing(step, steps, step * steps, tokens, rate)


def scale(rate: StepRate, shape: ModelShape, method: str, checkpointing: bool, batch: int, length: float,
          share: float) -> float:
    """A micro-step's seconds at other settings: the rate's seconds times the ratio of their FLOPs."""
    def work(m: str, c: bool, b: int, n: float) -> float:
        return b * n * flops_per_token(shape, int(n), m, c, share)

    return rate.seconds * work(method, checkpointing, batch, length) / work(rate.method, rate.checkpointing,
                                                                             rate.batch, rate.length)


def rough_rate(shape: ModelShape, setting: Setting, flops: float, kind: str, share: float, why: Text) -> StepRate:
    """A step's time from the machine's matmul speed and a typical share of it, where nothing was measured."""
    work = setting.batch * setting.max_len * flops_per_token(shape, setting.max_len, setting.method,
                                                             setting.gradient_checkpointing, share)
    mfu = GPU_MFU if kind == "gpu" else CPU_MFU
    return StepRate(work / (flops * mfu), setting.batch, setting.max_len, "rough", setting.method,
                    setting.gradient_checkpointing, why)


def duration(seconds: float) -> Text:
    if seconds < 120:
        return say("time.seconds", n=round(seconds))
    if seconds < 7200:
        return say("time.minutes", n=round(seconds / 60))
    minutes = round(seconds / 60)
    return say("time.hours", h=minutes // 60, m=minutes % 60)


def _round(x: float) -> float:
    return round(x, 2) if x < 10 else round(x, 1)
