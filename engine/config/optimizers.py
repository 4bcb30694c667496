"""The optimizers a run can use (the `optim` field): what each needs and what it saves. The Trainer builds
them (transformers' own names); this module says which cannot run where, and why. Nothing here imports an
optimizer package."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from engine.errors import ConfigError


@dataclass(frozen=True)
class Optimizer:
    state_bytes: float  # optimizer state per trained parameter (AdamW: two fp32 moments)
    cuda: bool = False  # bitsandbytes' 8-bit and paged kernels
    package: str = ""  # the module it imports, installed with `pip install <install>`
    install: str = ""
    full_only: bool = False  # low-rank projections of whole weight matrices: full fine-tuning only


DEFAULT_OPTIMIZER = "adamw_torch_fused"  # what the Trainer itself picks with torch 2.8 or newer
OPTIMIZERS: dict[str, Optimizer] = {
    "adamw_torch_fused": Optimizer(8),
    "adamw_torch": Optimizer(8),
    "adafactor": Optimizer(0.1),  # factored second moments, no first moment
    "adamw_8bit": Optimizer(2, cuda=True),
    "paged_adamw_8bit": Optimizer(2, cuda=True),
    "galore_adamw": Optimizer(8, package="galore_torch", install="galore-torch", full_only=True),
    "apollo_adamw": Optimizer(8, package="apollo_torch", install="apollo-torch", full_only=True),
}
LOW_RANK = ("galore_adamw", "apollo_adamw")
LOW_RANK_TARGETS = ["attn", "mlp"]  # the attention and MLP projections get the low-rank optimizer states


def low_rank(hidden: int) -> int:
    """The projection rank for GaLore / APOLLO: their usual 128, a quarter of the width on small models."""
    return max(4, min(128, hidden // 4))


def optimizer_errors(name: str, finetuning_type: str) -> list[str]:
    """Rules that hold on every machine (what is installed, and the GPU, are asked when a run starts)."""
    if name not in OPTIMIZERS:
        return [f"optim: unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}"]
    if OPTIMIZERS[name].full_only and finetuning_type != "full":
        return [f"optim: {name} projects the gradients of whole weight matrices and trains them in full; use "
                f"finetuning_type full, or adamw_torch_fused with {finetuning_type}"]
    return []


def check_optimizer(name: str, cuda: bool | None = None) -> None:
    """Refuse an optimizer this machine cannot run, with the fix (`cuda` None: ask torch)."""
    spec = OPTIMIZERS.get(name)
    if spec is None:
        return  # the config's own rules name it
    if spec.cuda and cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if spec.cuda and not cuda:
        raise ConfigError(f"optim: {name} keeps its state in bitsandbytes' 8-bit CUDA kernels and needs an NVIDIA "
                          "GPU; on this machine use adafactor for less optimizer memory, or adamw_torch_fused")
    if spec.package and importlib.util.find_spec(spec.package) is None:
        raise ConfigError(f"optim: {name} needs the {spec.install} package: pip install {spec.install} (then "
                          "start the run again)")
