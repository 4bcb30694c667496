"""TrainingArguments from a TrainConfig, shared by every method so a field means the same thing whatever
the method, and the callbacks that judge checkpoints by validation loss."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from engine.config.optimizers import LOW_RANK, LOW_RANK_TARGETS, low_rank
from engine.config.train_config import TrainConfig
from engine.models.levers import resolve_levers, trainer_kwargs
from engine.training import sharding
from engine.training.trackers import integration_names


def training_kwargs(config: TrainConfig, output_dir: Path, precision: str, has_eval: bool) -> dict[str, Any]:
    import torch

    # TRL's configs turn bf16 and gradient checkpointing on by default; every key below is set on purpose
    eval_steps = config.eval_steps or config.save_steps
    levers = resolve_levers(config)
    shards = sharding.trainer_kwargs(config, precision)
    # FSDP recomputes with its own checkpointing (fsdp_config): the Trainer's would gather the weights twice
    checkpointing = config.gradient_checkpointing and "fsdp" not in shards
    switch, options = _checkpointing_names()
    return {
        "output_dir": str(output_dir),
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "per_device_eval_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": config.warmup_ratio if config.warmup_ratio < 1 else 0,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "logging_steps": config.logging_steps,
        "logging_first_step": True,
        "logging_nan_inf_filter": False,  # a NaN loss must reach the callback, which fails the run
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit or None,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": eval_steps if has_eval else None,
        switch: checkpointing,
        # offload: the activations kept for the recompute wait in pinned host memory (a GPU lever)
        options: {"use_reentrant": False, **({"offload": True} if levers.offload else {})} if checkpointing else None,
        **trainer_kwargs(levers),
        **shards,
        "optim": config.optim,  # GaLore's and APOLLO's targets and rank: low_rank_states, once the model is known
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        # NEFTune: transformers adds the noise in a forward hook on the input embeddings, in training only
        "neftune_noise_alpha": (config.neftune_noise_alpha or None) if config.applies("neftune_noise_alpha") else None,
        "seed": config.seed,
        "data_seed": config.seed,
        # TensorBoard has its own writer (trackers.py); the others are the Trainer's integrations
        "report_to": integration_names(config) or "none",
        "run_name": output_dir.name,
        "disable_tqdm": True,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        # tokens/s on the charts counts real tokens: padding is work, not progress
        "include_num_input_tokens_seen": "non_padding",
        # several processes: each rank's summed loss is divided by the trained tokens of all ranks, so the
        # step is the mean over every token of the global batch, not a mean of per-rank means
        "average_tokens_across_devices": True,
        "use_cpu": not torch.cuda.is_available(),
        # several processes (torchrun): gloo where there is no GPU; LoRA leaves most weights without gradients
        **({"ddp_backend": None if torch.cuda.is_available() else "gloo", "ddp_find_unused_parameters": False}
           if int(os.environ.get("WORLD_SIZE", "1")) > 1 else {}),
        **(_best_kwargs(config) if has_eval else {}),
    }


def _checkpointing_names() -> tuple[str, str]:
    """transformers 5.23 names it activation checkpointing; earlier versions, gradient checkpointing."""
    from transformers import TrainingArguments

    if "activation_checkpointing" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        return "activation_checkpointing", "activation_checkpointing_kwargs"
    return "gradient_checkpointing", "gradient_checkpointing_kwargs"


def low_rank_states(config: TrainConfig, args: Any, model: Any) -> str:
    """GaLore / APOLLO: which weights get low-rank optimizer states, at a rank fitted to the model's width
    (the Trainer builds the optimizer from these when training starts). Returns the line for the log."""
    if config.optim not in LOW_RANK:
        return ""
    rank = low_rank(int(getattr(model.config, "hidden_size", 512)))
    args.optim_target_modules = LOW_RANK_TARGETS
    args.optim_args = f"rank={rank}"
    return f" (low-rank optimizer states of rank {rank} on the attention and MLP weights)"


def _best_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Keeping the best checkpoint and early stopping both judge checkpoints by validation loss."""
    if not (config.keep_best or config.early_stopping_patience):
        return {}
    return {"metric_for_best_model": "eval_loss", "greater_is_better": False,
            "load_best_model_at_end": config.keep_best}


def stopping_callbacks(config: TrainConfig, has_eval: bool) -> list[Any]:
    if not (config.early_stopping_patience and has_eval):
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(config.early_stopping_patience, config.early_stopping_threshold)]
