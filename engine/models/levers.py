"""The GPU levers a run asks for (attention kernel, Liger kernels, activation offload, torch.compile) and
the one it always gets where it helps (TF32 matmuls on Ampere and newer), decided against this machine
before any data or model is loaded: each is applied where it can run and refused, with the reason and the
fix, where it cannot. A config saved on one machine may run on another, so nothing here is a config rule."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.text.message import say

AMPERE = (8, 0)  # bf16, TF32 and FlashAttention 2 start here


@dataclass(frozen=True)
class Machine:
    """What the levers depend on: an NVIDIA GPU (its compute capability) and the optional packages."""

    cuda: bool = False
    capability: tuple[int, int] | None = None
    flash_attn: bool = False
    liger: bool = False
    deepspeed: bool = False
    offload_hook: bool = True  # the installed transformers can offload checkpointed activations

    @classmethod
    def here(cls) -> Machine:
        import torch

        cuda = torch.cuda.is_available()
        return cls(cuda, torch.cuda.get_device_capability(0) if cuda else None,
                   importlib.util.find_spec("flash_attn") is not None,
                   importlib.util.find_spec("liger_kernel") is not None,
                   importlib.util.find_spec("deepspeed") is not None, _offload_hook())

    @property
    def ampere(self) -> bool:
        return self.cuda and self.capability is not None and self.capability >= AMPERE


@dataclass(frozen=True)
class Levers:
    attention: str = "sdpa"  # what from_pretrained gets
    liger: bool = False
    offload: bool = False
    compile: bool = False
    tf32: bool = False

    def describe(self) -> str:
        on = [f"attention {self.attention}"] + [name for name, used in (
            ("Liger kernels", self.liger), ("activation offload", self.offload), ("torch.compile", self.compile),
            ("TF32 matmuls", self.tf32)) if used]
        return str(say("lever.applied", levers=", ".join(on)))


def resolve_levers(config: TrainConfig, machine: Machine | None = None, model_type: str = "") -> Levers:
    """The levers `config` gets on `machine` (this one when None); a lever it cannot use is a ConfigError.
    `model_type` (config.json's) is checked against Liger's own list of families when given."""
    machine = machine or Machine.here()
    several = config.processes > 1
    if config.distributed == "deepspeed" and several and not machine.deepspeed:
        raise ConfigError(say("lever.deepspeed_missing"))
    if config.distributed == "fsdp" and several and not machine.cuda:
        raise ConfigError(say("lever.fsdp_no_gpu"))
    return Levers(_attention(config.attn_implementation, machine), _liger(config, machine, model_type),
                  _offload(config, machine), config.torch_compile, machine.ampere)


def _attention(asked: str, machine: Machine) -> str:
    if asked == "auto":
        return "flash_attention_2" if machine.ampere and machine.flash_attn else "sdpa"
    if asked == "flash_attention_2":
        if not machine.cuda:
            raise ConfigError(say("lever.flash_no_gpu"))
        if not machine.ampere:
            capability = ".".join(map(str, machine.capability or ()))
            raise ConfigError(say("lever.flash_old_gpu", capability=capability))
        if not machine.flash_attn:
            raise ConfigError(say("lever.flash_missing"))
    return asked


def _liger(config: TrainConfig, machine: Machine, model_type: str) -> bool:
    if not config.use_liger_kernel:
        return False
    if not machine.cuda:
        raise ConfigError(say("lever.liger_no_gpu"))
    if not machine.liger:
        raise ConfigError(say("lever.liger_missing"))
    families = liger_families()
    if model_type and families and model_type not in families:
        raise ConfigError(say("lever.liger_family", family=model_type, supported=", ".join(sorted(families))))
    return True


def liger_families() -> set[str]:
    """The model types Liger patches, from the installed package's own table (empty when not installed)."""
    try:
        from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN
    except ImportError:
        return set()
    return set(MODEL_TYPE_TO_APPLY_LIGER_FN)


def _offload(config: TrainConfig, machine: Machine) -> bool:
    if not config.activation_offload:
        return False
    if not machine.cuda:
        raise ConfigError(say("lever.offload_no_gpu"))
    if not config.gradient_checkpointing:
        raise ConfigError(say("lever.offload_needs_checkpointing"))
    if not machine.offload_hook:
        raise ConfigError(say("lever.offload_old_transformers"))
    return True


def _offload_hook() -> bool:
    """transformers added activation offload to its checkpointing in 2026 (5.23 has it)."""
    import inspect

    from transformers import PreTrainedModel

    enable = getattr(PreTrainedModel, "activation_checkpointing_enable", None)
    return enable is not None and "offload" in inspect.signature(enable).parameters


def trainer_kwargs(levers: Levers) -> dict[str, Any]:
    """What the levers set in the Trainer's arguments (attention is set where the model loads)."""
    return {"use_liger_kernel": levers.liger, "torch_compile": levers.compile,
            **({"tf32": True} if levers.tf32 else {})}
