"""SFT and continued pre-training: plain `Trainer` with TuneDesk's collators (measured faster than TRL's
SFTTrainer on the same data), packing without cross-sample attention when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import TrainConfig
from engine.data.collate import ListDataset, PackedCollator, PaddedCollator, pack
from engine.training.arguments import training_kwargs


def sft_trainer(config: TrainConfig, model: Any, tok: Any, train: list[Any], val: list[Any], output_dir: Path,
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
