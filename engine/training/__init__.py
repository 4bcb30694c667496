"""The trainer for each method: `build_trainer` picks it, one module per family.

sft / pt → sft.py (plain `Trainer`, TuneDesk's collators); dpo / kto / orpo / simpo → preference.py
(TRL); grpo → grpo.py (TRL's GRPOTrainer with TuneDesk's reward functions). All share arguments.py;
LoRA+ comes from optimizers.py; the optimizer itself is the Trainer's (`optim`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config.optimizers import DEFAULT_OPTIMIZER
from engine.config.train_config import TrainConfig
from engine.training import preference
from engine.training.arguments import low_rank_states, stopping_callbacks
from engine.training.optimizers import loraplus_optimizer


def build_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
                  precision: str, callbacks: list[Any], log: Any = print) -> Any:
    from transformers import PrinterCallback

    callbacks = callbacks + stopping_callbacks(config, bool(val))
    if config.method in ("dpo", "kto", "orpo", "simpo"):
        build = {"dpo": preference.dpo_trainer, "kto": preference.kto_trainer, "orpo": preference.orpo_trainer,
                 "simpo": preference.simpo_trainer}[config.method]
    elif config.method == "grpo":
        from engine.training.grpo import grpo_trainer

        def build(*args: Any) -> Any:
            return grpo_trainer(*args, log)  # sampled completions go to the run's log
    else:
        from engine.training.sft import sft_trainer as build
    trainer = build(config, model, tok, train, val, output_dir, precision, callbacks)
    trainer.remove_callback(PrinterCallback)  # events go to metrics.jsonl and the UI, not stdout
    states = low_rank_states(config, trainer.args, model)
    if config.optim != DEFAULT_OPTIMIZER:
        log(f"optimizer: {config.optim}{states}")
    optimizer = loraplus_optimizer(config, trainer)
    if optimizer is not None:  # the Trainer builds its own only where none is set
        trainer.optimizer = optimizer
        log(f"LoRA+: the B matrices learn at {config.loraplus_lr_ratio:g}× the learning rate")
    return trainer
