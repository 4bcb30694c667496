"""Will it fit on this machine? The estimator applied to the detected devices, for a model given by
name, hub id or local folder, and the "what this machine can train" table over the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil

from engine.config.train_config import TrainConfig
from engine.env.gpus import gpu_info
from engine.errors import ModelError
from engine.hub.info import known_config_folder
from engine.sizing.catalog import CATALOG, find
from engine.sizing.memory import Setting, describe_change, estimate, nearest_fit, verdict
from engine.sizing.shape import ModelShape, shape_from_folder
from engine.text.message import say

METHODS = ("full", "lora", "qlora4", "qlora8")


def device_memory(gpus: list[dict[str, Any]] | None = None) -> tuple[str, float, str]:
    """(gpu | cpu, GiB to train in, a name): the largest GPU's memory, or the RAM available now. GPUs are
    detected here when the caller has not (a pynvml query: milliseconds)."""
    if gpus is None:
        gpus = gpu_info()["gpus"]
    if gpus:
        best = max(gpus, key=lambda g: g.get("mem_total_gb", 0))
        return "gpu", float(best.get("mem_total_gb", 0)), f"GPU {best['index']} {best['name']}"
    return "cpu", round(psutil.virtual_memory().available / 2**30, 1), "RAM (no GPU)"


def model_shape(model: str) -> ModelShape:
    """From the catalogue, or a local folder's config.json; a hub model outside the catalogue needs its
    config downloaded first."""
    known = find(model)
    if known is not None:
        return known.shape
    path = Path(model).expanduser()
    if path.is_dir():
        return shape_from_folder(path)

    folder = known_config_folder(model)
    if folder is not None:
        return shape_from_folder(folder)
    raise ModelError(f"{model}: not in TuneDesk's catalogue, not cached and not a local model folder; open its "
                     "model page in the Model Hub tab (that fetches its config.json) or download it first")


def setting_for(config: TrainConfig) -> Setting:
    """The estimator's view of a training run: what changes its memory."""
    method = {"qlora": f"qlora{config.quantization_bit}"}.get(config.finetuning_type, config.finetuning_type)
    adapter = config.uses_lora
    return Setting(method, config.method, config.max_seq_length, config.per_device_train_batch_size,
                   config.gradient_checkpointing, config.precision, config.lora_r,
                   dora=adapter and config.use_dora, modules_to_save=config.lora_modules_to_save if adapter else "",
                   freeze_layers=config.freeze_trainable_layers if method == "freeze" else 0,
                   freeze_modules=config.freeze_trainable_modules, optimizer=config.optim,
                   trained_logits=config.trained_logits_only and config.method in ("sft", "pt"),
                   attention=config.attn_implementation, liger=config.use_liger_kernel,
                   offload=config.activation_offload and config.gradient_checkpointing,
                   shards=config.processes if config.distributed != "ddp" else 1,
                   zero_stage=config.deepspeed_stage, sharding=config.distributed, host=config.offload)


def estimate_for(model: str, setting: Setting, gpus: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    shape = model_shape(model)
    device, gb, name = device_memory(gpus)
    setting = Setting(**{**setting.__dict__, "device": device,
                         "precision": "fp32" if device == "cpu" and setting.precision == "auto" else
                         ("bf16" if setting.precision == "auto" else setting.precision)})
    result = estimate(shape, setting)
    out = {"model": model, "setting": setting.__dict__, **result.to_dict(), "device": name, "device_kind": device,
           "device_gb": gb,
           "verdict": verdict(result.total_gb, gb), "suggestion": None,
           "suggestion_text": None}
    if out["verdict"] != "fits":
        found = nearest_fit(shape, setting, gb)
        message = (say("fit.suggest", change=describe_change(setting, found[0]), total=found[1].total_gb) if found
                   else say("fit.too_big"))
        out["suggestion"], out["suggestion_text"] = str(message), message.to_dict()
    return out


def machine_table(gpus: list[dict[str, Any]] | None = None, max_len: int = 1024, batch: int = 1
                  ) -> list[dict[str, Any]]:
    """The catalogue × full / LoRA / QLoRA-4 with gradient checkpointing: what this machine can train."""
    device, gb, _ = device_memory(gpus)
    precision = "bf16" if device == "gpu" else "fp32"
    rows = []
    for m in CATALOG:
        row: dict[str, Any] = {"model": m.name, "params_b": round(m.shape.params / 1e9, 2)}
        for method in ("full", "lora", "qlora4"):
            total = estimate(m.shape, Setting(method, "sft", max_len, batch, True, precision, 8, device)).total_gb
            row[method] = {"gb": total, "verdict": verdict(total, gb)}
        rows.append(row)
    return rows


def catalog_table(method: str = "lora", max_len: int = 1024, batch: int = 1, fits_only: bool = False,
                  gpus: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The catalogue with each model's estimated memory for one method on this machine."""
    device, gb, _ = device_memory(gpus)
    precision = "bf16" if device == "gpu" else "fp32"
    rows = []
    for m in CATALOG:
        total = estimate(m.shape, Setting(method, "sft", max_len, batch, True, precision, 8, device)).total_gb
        row = {"model": m.name, "params_b": round(m.shape.params / 1e9, 2), "context": m.shape.context,
               "licence": m.licence, "hf_id": m.hf_id, "ms_id": m.ms_id, "memory_gb": total,
               "verdict": verdict(total, gb)}
        if not fits_only or row["verdict"] == "fits":
            rows.append(row)
    return rows
