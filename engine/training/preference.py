"""DPO (chosen/rejected pairs) and KTO (single answers labelled desirable or not) through TRL.

With a PEFT model and no ref_model, TRL uses the base model (adapters disabled) as the reference, so
neither method holds a second copy of the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.training.arguments import training_kwargs


def dpo_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                precision: str, callbacks: list[Any]) -> Any:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**training_kwargs(config, output_dir, precision, bool(val)), beta=config.dpo_beta,
                     max_length=config.max_seq_length, dataset_num_proc=None, **dpo_loss_kwargs(config))
    return DPOTrainer(model=model, ref_model=None, args=args, train_dataset=Dataset.from_list(train),
                      eval_dataset=Dataset.from_list(val) if val else None, processing_class=tok, callbacks=callbacks)


def kto_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                precision: str, callbacks: list[Any]) -> Any:
    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    args = KTOConfig(**training_kwargs(config, output_dir, precision, bool(val)), beta=config.kto_beta,
                     desirable_weight=config.kto_desirable_weight, undesirable_weight=config.kto_undesirable_weight,
                     max_length=config.max_seq_length, dataset_num_proc=None)
    return KTOTrainer(model=model, ref_model=None, args=args, train_dataset=Dataset.from_list(train),
                      eval_dataset=Dataset.from_list(val) if val else None, processing_class=tok, callbacks=callbacks)


ROBUST_FLIP = 0.1  # robust DPO: the share of preference labels assumed flipped (the paper's suggestion)


def dpo_loss_kwargs(config: TrainConfig) -> dict[str, Any]:
    """TRL's loss_type (and weights) for the chosen DPO loss, with the chosen answers' SFT loss mixed in."""
    kwargs: dict[str, Any] = {"loss_type": [config.dpo_loss]}
    if config.dpo_loss == "robust":
        kwargs["label_smoothing"] = ROBUST_FLIP
    if config.pref_ftx > 0:
        kwargs.update(loss_type=[config.dpo_loss, "sft"], loss_weights=[1.0, config.pref_ftx])
    return kwargs
