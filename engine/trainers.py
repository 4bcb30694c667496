"""Building the transformers/TRL trainer for a run.

SFT and pre-training use plain `Trainer` with TuneDesk's own collators (it measured faster than
TRL's SFTTrainer on the same data); DPO uses TRL's `DPOTrainer`. Both share TrainingArguments built
from the TrainConfig, so a field means the same thing whatever the method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import TrainConfig
from engine.data.collate import ListDataset, PackedCollator, PaddedCollator, pack


def training_kwargs(config: TrainConfig, output_dir: Path, precision: str, has_eval: bool) -> dict[str, Any]:
    import torch

    eval_steps = config.eval_steps or config.save_steps
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
        "gradient_checkpointing": config.gradient_checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False} if config.gradient_checkpointing else None,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "seed": config.seed,
        "data_seed": config.seed,
        "report_to": "none",
        "disable_tqdm": True,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "include_num_input_tokens_seen": "all",
        "use_cpu": not torch.cuda.is_available(),
        **(_best_kwargs(config) if has_eval else {}),
    }


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


def build_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                  precision: str, callbacks: list[Any]) -> Any:
    from transformers import PrinterCallback

    trainer = (_dpo_trainer if config.method == "dpo" else _plain_trainer)(
        config, model, tok, train, val, output_dir, precision, callbacks + stopping_callbacks(config, bool(val)))
    trainer.remove_callback(PrinterCallback)  # events go to metrics.jsonl and the UI, not stdout
    return trainer


def _plain_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                   precision: str, callbacks: list[Any]) -> Any:
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(**training_kwargs(config, output_dir, precision, bool(val)))
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    if config.packing:
        train_set, collator = ListDataset(pack(train, config.max_seq_length)), PackedCollator(pad_id)
        val_set = ListDataset(pack(val, config.max_seq_length)) if val else None
    else:
        train_set, collator = ListDataset(train), PaddedCollator(pad_id)
        val_set = ListDataset(val) if val else None
    return Trainer(model=model, args=args, train_dataset=train_set, eval_dataset=val_set, data_collator=collator,
                   processing_class=tok, callbacks=callbacks)


def _dpo_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                 precision: str, callbacks: list[Any]) -> Any:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**training_kwargs(config, output_dir, precision, bool(val)), beta=config.dpo_beta,
                     max_length=config.max_seq_length, dataset_num_proc=None)
    # with a PEFT model and no ref_model, TRL uses the base model (adapters disabled) as the reference
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=Dataset.from_list(train),
                      eval_dataset=Dataset.from_list(val) if val else None, processing_class=tok, callbacks=callbacks)
