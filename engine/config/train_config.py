"""TrainConfig: the one typed description of a training run.

The Train form, YAML presets, the CLI (`--set key=value`) and the API all read and write this
dataclass: the fields (fields.py), checked field by field (coerce.py) and across fields (rules.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, get_type_hints

import yaml

from engine.config.coerce import coerce, unknown_key_message
from engine.config.field_info import ADAPTERS, CONFIG_VERSION, VERSION_KEY, FieldInfo
from engine.config.fields import TrainFields
from engine.config.rules import cross_field_errors
from engine.errors import ConfigError


@dataclass
class TrainConfig(TrainFields):
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        version = data.pop(VERSION_KEY, CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError(f"{VERSION_KEY}: this TuneDesk reads version {CONFIG_VERSION}, the file says {version!r}")
        names = field_names()
        errors = [unknown_key_message(key, names) for key in data if key not in names]
        values: dict[str, Any] = {}
        hints = get_type_hints(cls)
        for f in fields(cls):
            if f.name not in data:
                continue
            try:
                values[f.name] = coerce(f.name, data[f.name], hints[f.name], f.metadata["info"])
            except ConfigError as exc:
                errors.append(str(exc))
        if errors:
            raise ConfigError("\n".join(errors))
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Cross-field rules, which single-field coercion cannot see."""
        errors = cross_field_errors(self)
        if errors:
            raise ConfigError("\n".join(errors))

    def to_dict(self) -> dict[str, Any]:
        return {VERSION_KEY: CONFIG_VERSION, **asdict(self)}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def replace(self, **changes: Any) -> TrainConfig:
        return TrainConfig.from_dict({**asdict(self), **changes})

    @property
    def processes(self) -> int:
        """Training processes in all: per machine × machines."""
        return self.nproc_per_node * self.nnodes

    @property
    def uses_lora(self) -> bool:
        return self.finetuning_type in ADAPTERS

    def applies(self, name: str) -> bool:
        """Whether a field is used by this run's method and fine-tuning type (the form hides the others)."""
        return field_info(name).applies(self.method, self.finetuning_type)


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def field_info(name: str) -> FieldInfo:
    return next(f.metadata["info"] for f in fields(TrainConfig) if f.name == name)
