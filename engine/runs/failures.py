"""Turning an exception from a run into a one-line reason and a concrete suggestion."""

from __future__ import annotations

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError, DataError, ModelError, NaNLossError, TuneDeskError


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    text = str(exc).lower()
    return name == "OutOfMemoryError" or "out of memory" in text or "can't allocate memory" in text or (
        "defaultcpuallocator" in text and "not enough memory" in text)


def oom_advice(config: TrainConfig) -> str:
    bs, ga, length = config.per_device_train_batch_size, config.gradient_accumulation_steps, config.max_seq_length
    steps = []
    if bs > 1:
        new_bs = max(1, bs // 2)
        steps.append(f"per_device_train_batch_size {bs} → {new_bs} with gradient_accumulation_steps {ga} → "
                     f"{ga * bs // new_bs} (same effective batch of {bs * ga})")
    if not config.gradient_checkpointing:
        steps.append("turn on gradient_checkpointing")
    if config.finetuning_type == "full":
        steps.append("use finetuning_type lora (or qlora)")
    elif config.finetuning_type == "lora":
        steps.append("use finetuning_type qlora (4-bit base)")
    if length > 256:
        steps.append(f"max_seq_length {length} → {length // 2}")
    return "Try: " + "; ".join(steps) + "." if steps else "Use a smaller model."


def explain(exc: BaseException, config: TrainConfig | None) -> tuple[str, str]:
    """(reason, suggestion) for status.json and the UI."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if config is not None and is_oom(exc):
        return f"out of memory: {first[:200]}", oom_advice(config)
    if isinstance(exc, NaNLossError):
        lr = config.learning_rate if config else None
        fix = f"lower learning_rate ({lr:g} → {lr / 4:g})" if lr else "lower the learning rate"
        return str(exc), f"{fix}, keep max_grad_norm at 1.0, and prefer bf16 or fp32 over fp16."
    if isinstance(exc, DataError):
        return f"bad data: {first}", "Fix the rows named in train.log and data_report.json, or set dataset_format."
    if isinstance(exc, ModelError):
        return first, "Check the model name or folder; downloads need the network once, then work offline."
    if isinstance(exc, (ConfigError, TuneDeskError)):
        return first, "Fix the setting named above and start again."
    return f"{type(exc).__name__}: {first[:300]}", "See train.log for the full traceback."
