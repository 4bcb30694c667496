"""DPO (chosen/rejected pairs) and KTO (single answers labelled desirable or not) through TRL, and the
reference-free pairwise methods ORPO and SimPO through TRL's ORPO and CPO trainers.

With a PEFT model and no ref_model, TRL uses the base model (adapters disabled) as the reference, so
neither DPO nor KTO holds a second copy of the weights; ORPO and SimPO need no reference at all.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
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


def orpo_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                 precision: str, callbacks: list[Any]) -> Any:
    from datasets import Dataset
    with _experimental():
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    args = ORPOConfig(**training_kwargs(config, output_dir, precision, bool(val)), beta=config.orpo_beta,
                      max_length=config.max_seq_length, dataset_num_proc=None)
    return ORPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(train),
                       eval_dataset=Dataset.from_list(val) if val else None, processing_class=tok, callbacks=callbacks)


def simpo_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                  precision: str, callbacks: list[Any]) -> Any:
    """SimPO is TRL's CPO trainer with the simpo loss and no behaviour-cloning term (cpo_alpha 0)."""
    from datasets import Dataset
    with _experimental():
        from trl.experimental.cpo import CPOConfig, CPOTrainer

    args = CPOConfig(**training_kwargs(config, output_dir, precision, bool(val)), loss_type="simpo", cpo_alpha=0.0,
                     beta=config.simpo_beta, simpo_gamma=config.simpo_gamma, max_length=config.max_seq_length,
                     dataset_num_proc=None)
    return CPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(train),
                      eval_dataset=Dataset.from_list(val) if val else None, processing_class=tok, callbacks=callbacks)


@contextlib.contextmanager
def _experimental() -> Iterator[None]:
    """TRL keeps ORPO and CPO under trl.experimental and warns on import; the pinned TRL version and the tests of
    both methods stand for their API, so the warning would only clutter the run's log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*trl.experimental.*")
        yield


ROBUST_FLIP = 0.1  # robust DPO: the share of preference labels assumed flipped (the paper's suggestion)


def dpo_loss_kwargs(config: TrainConfig) -> dict[str, Any]:
    """TRL's loss_type (and weights) for the chosen DPO loss, with the chosen answers' SFT loss mixed in."""
    kwargs: dict[str, Any] = {"loss_type": [config.dpo_loss]}
    if config.dpo_loss == "robust":
        kwargs["label_smoothing"] = ROBUST_FLIP
    if config.pref_ftx > 0:
        kwargs.update(loss_type=[config.dpo_loss, "sft"], loss_weights=[1.0, config.pref_ftx])
    return kwargs
