"""Turning an exception from a run into a one-line reason and a concrete suggestion."""

from __future__ import annotations

from engine.config.train_config import TrainConfig
from engine.errors import DataError, ModelError, NaNLossError, TuneDeskError
from engine.text.message import Joined, Text, plain, say


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    text = str(exc).lower()
    return name == "OutOfMemoryError" or "out of memory" in text or "can't allocate memory" in text or (
        "defaultcpuallocator" in text and "not enough memory" in text)


def oom_advice(config: TrainConfig) -> Text:
    bs, ga, length = config.per_device_train_batch_size, config.gradient_accumulation_steps, config.max_seq_length
    steps = []
    if bs > 1:
        new_bs = max(1, bs // 2)
        steps.append(say("run.oom_batch", bs=bs, new_bs=new_bs, ga=ga, new_ga=ga * bs // new_bs, effective=bs * ga))
    if not config.gradient_checkpointing:
        steps.append(say("run.oom_checkpointing"))
    if config.finetuning_type in ("full", "freeze"):
        steps.append(say("run.oom_lora"))
    elif config.finetuning_type == "lora":
        steps.append(say("run.oom_qlora"))
    if length > 256:
        steps.append(say("run.oom_length", length=length, half=length // 2))
    return say("run.oom_try", steps=Joined(tuple(steps))) if steps else say("run.oom_smaller")


def explain(exc: BaseException, config: TrainConfig | None) -> tuple[Text, Text]:
    """(reason, suggestion) for status.json and the UI, as messages: their English text is what status.json's
    error and suggestion hold, and the messages themselves render in the reader's language."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    own = getattr(exc, "text", None)  # an engine error that is a message already
    if config is not None and is_oom(exc):
        return say("run.oom", detail=first[:200]), oom_advice(config)
    if isinstance(exc, NaNLossError):
        lr = config.learning_rate if config else None
        fix = say("run.nan_fix", lr=f"{lr:g}", lower=f"{lr / 4:g}") if lr else say("run.nan_fix_plain")
        return own or plain(str(exc)), fix
    if isinstance(exc, DataError):
        return say("run.bad_data", detail=own or first), say("run.bad_data_fix")
    if isinstance(exc, ModelError):
        return own or plain(first), say("run.model_fix")
    if isinstance(exc, TuneDeskError):
        return own or plain(first), say("run.setting_fix")
    return say("run.crash", kind=type(exc).__name__, detail=first[:300]), say("run.crash_fix")
