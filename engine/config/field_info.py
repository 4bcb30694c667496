"""What every TrainConfig field carries beside its default, and the names shared by all config modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONFIG_VERSION = 1
VERSION_KEY = "tunedesk_config"
DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"

GROUPS = ("model", "method", "preference", "rl", "train", "lora", "quant", "gpu", "advanced")
METHODS = ("sft", "dpo", "kto", "orpo", "simpo", "grpo", "pt")
PAIRWISE = ("dpo", "orpo", "simpo")  # methods trained on chosen / rejected pairs
REFERENCED = ("dpo", "kto")  # methods that compare the policy with a frozen reference model
FINETUNING_TYPES = ("full", "lora", "qlora", "freeze")
ADAPTERS = ("lora", "qlora")
# fields that say where a run lives and what it is called, not how it trains (settings hashes and run
# comparisons leave them out)
LOCATION_FIELDS = ("output_dir", "run_name")


@dataclass(frozen=True)
class FieldInfo:
    group: str
    label: tuple[str, str]  # (English, 简体中文)
    help: tuple[str, str]
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    # a minimum that the value must exceed rather than equal (learning rate > 0)
    exclusive_min: bool = False
    step: float | None = None
    # the methods a field applies to (the Train form hides it, and the engine ignores it, for others); None = all
    methods: tuple[str, ...] | None = None
    # likewise the fine-tuning types (full, lora, qlora, freeze); None = all
    types: tuple[str, ...] | None = None

    def applies(self, method: str, finetuning_type: str) -> bool:
        return (self.methods is None or method in self.methods) and (self.types is None or
                                                                     finetuning_type in self.types)


def opt(default: Any, group: str, label: tuple[str, str], help: tuple[str, str], **kw: Any) -> Any:
    return field(default=default, metadata={"info": FieldInfo(group, label, help, **kw)})
