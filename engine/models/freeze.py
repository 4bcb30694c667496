"""Freeze tuning: the chosen decoder layers (the last N, or the first N) are trained in full, every other
weight stays as it is. Cheaper than full fine-tuning in optimizer state and gradients; no adapter, so the
result is a whole model like a full run's."""

from __future__ import annotations

from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ModelError


def decoder_layers(model: Any) -> tuple[str, Any]:
    """The model's list of decoder layers and its dotted name: the ModuleList as long as the config's layer count."""
    import torch

    count = getattr(model.config, "num_hidden_layers", None) or getattr(model.config, "num_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return name, module
    raise ModelError(f"freeze tuning cannot find the decoder layers of {type(model).__name__} (a list of {count} "
                     "layers): use finetuning_type lora or full for this model")


def apply_freeze(model: Any, config: TrainConfig) -> list[str]:
    """Leave only the chosen layers' chosen modules trainable; returns the trained parameter names."""
    prefix, layers = decoder_layers(model)
    n = config.freeze_trainable_layers
    if abs(n) > len(layers):
        raise ModelError(f"freeze_trainable_layers {n}: the model has {len(layers)} decoder layers; choose "
                         f"1 to {len(layers)} (or -1 to -{len(layers)} for the first ones)")
    chosen = range(len(layers) - n, len(layers)) if n > 0 else range(-n)
    wanted = [m.strip() for m in config.freeze_trainable_modules.split(",") if m.strip()]
    every = wanted == ["all"]
    known = {name.split(".")[0] for name, _ in layers[0].named_parameters()}
    unknown = [] if every else [m for m in wanted if m not in known]
    if unknown:
        raise ModelError(f"freeze_trainable_modules: {', '.join(unknown)} not in a decoder layer of this model, "
                         f"which has {', '.join(sorted(known))}")
    trained = []
    for param in model.parameters():
        param.requires_grad_(False)
    for i in chosen:
        for name, param in layers[i].named_parameters():
            if every or name.split(".")[0] in wanted:
                param.requires_grad_(True)
                trained.append(f"{prefix}.{i}.{name}")
    if config.gradient_checkpointing:
        model.enable_input_require_grads()  # the frozen embeddings give checkpointed layers no grad input
    return trained
