"""Optimizers beyond the Trainer's own: LoRA+ (the B matrices at a multiple of the learning rate) through
PEFT's `create_loraplus_optimizer`, on the optimizer class and settings the Trainer would have used."""

from __future__ import annotations

from typing import Any

from engine.config.train_config import TrainConfig


def loraplus_optimizer(config: TrainConfig, trainer: Any) -> Any | None:
    """None unless the run asks for LoRA+ (and trains an adapter)."""
    if not (config.loraplus_lr_ratio and config.uses_lora):
        return None
    from peft.optimizers import create_loraplus_optimizer
    from transformers import Trainer

    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(trainer.args, trainer.model)
    kwargs = {k: v for k, v in kwargs.items() if k != "lr"}
    return create_loraplus_optimizer(trainer.model, cls, lr=trainer.args.learning_rate,
                                     loraplus_lr_ratio=config.loraplus_lr_ratio,
                                     loraplus_weight_decay=trainer.args.weight_decay, **kwargs)
