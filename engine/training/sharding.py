"""The engine config of a sharded run, generated from the form: DeepSpeed ZeRO-2/3 or PyTorch FSDP2, each
with its offload, handed to the Trainer's own DeepSpeed and FSDP integrations and saved in the run's folder
(`ds_config.json`, `fsdp_config.json`) as the record of what ran. Every process computes the same config
from the run's config, so none waits for a file. Nothing here imports torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig

DEEPSPEED_FILE = "ds_config.json"
FSDP_FILE = "fsdp_config.json"


def sharded(config: TrainConfig) -> bool:
    """Whether the run shards across processes (one process never does)."""
    return config.distributed != "ddp" and config.processes > 1


def deepspeed_config(config: TrainConfig, precision: str) -> dict[str, Any]:
    """ZeRO at the form's stage; the batch figures are the run's own, so DeepSpeed and the Trainer agree
    (DeepSpeed multiplies them by the processes it finds for the global batch)."""
    zero: dict[str, Any] = {"stage": config.deepspeed_stage, "overlap_comm": True, "contiguous_gradients": True,
                            "reduce_bucket_size": 5e7}
    if config.offload != "none":
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if config.offload == "optimizer+params":
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if config.deepspeed_stage == 3:
        # the final save gathers the shards into one model, as every other run saves it
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "gradient_clipping": config.max_grad_norm,
        "bf16": {"enabled": precision == "bf16"},
        # fp16 on GPUs without bf16: dynamic loss scaling (loss_scale 0)
        "fp16": {"enabled": precision == "fp16", "loss_scale": 0, "initial_scale_power": 16},
        "zero_optimization": zero,
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1 << 30,  # the run's own log reports the steps
    }


def fsdp_config(config: TrainConfig) -> dict[str, Any]:
    """FSDP2: stage 3 reshards the weights after each forward (ZeRO-3), stage 2 keeps them gathered until the
    backward (ZeRO-2-like); offload moves the weights and gradients to host memory between uses."""
    return {"version": 2, "reshard_after_forward": config.deepspeed_stage == 3,
            "cpu_offload": config.offload != "none", "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            # FSDP's own recompute: the Trainer's would gather the weights a second time in the backward
            "activation_checkpointing": config.gradient_checkpointing, "state_dict_type": "FULL_STATE_DICT"}


def trainer_kwargs(config: TrainConfig, precision: str) -> dict[str, Any]:
    """The Trainer's arguments for a sharded run (every process computes the same; rank 0 saves a copy)."""
    if not sharded(config):
        return {}
    if config.distributed == "deepspeed":
        return {"deepspeed": deepspeed_config(config, precision)}
    return {"fsdp": True, "fsdp_config": fsdp_config(config)}


def write_engine_config(config: TrainConfig, run_path: Path, precision: str) -> str:
    """Save the run's DeepSpeed or FSDP config in its folder (rank 0); returns the log line ('' for DDP)."""
    if not sharded(config):
        return ""
    if config.distributed == "deepspeed":
        path, body = run_path / DEEPSPEED_FILE, deepspeed_config(config, precision)
        what = f"DeepSpeed ZeRO-{config.deepspeed_stage}"
    else:
        path, body = run_path / FSDP_FILE, fsdp_config(config)
        what = f"FSDP2 ({'weights resharded after each forward' if config.deepspeed_stage == 3 else 'ZeRO-2-like'})"
    path.write_text(json.dumps(body, indent=1), encoding="utf-8")
    offload = "" if config.offload == "none" else f", {config.offload} offloaded to host memory"
    return f"sharding: {what}{offload}; engine config saved as {path.name}"

