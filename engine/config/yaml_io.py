"""Configs from YAML files and texts, `--set key=value` overrides, and a preset plus overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError


def load_yaml_text(text: str, origin: str = "<text>") -> TrainConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of key: value lines, got {type(data).__name__}")
    try:
        return TrainConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{origin}:\n{exc}") from exc


def load_yaml(path: str | Path) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    return load_yaml_text(path.read_text(encoding="utf-8"), str(path))


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings from the CLI; values are read as YAML scalars so 1e-4 and true work."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected key=value, e.g. --set learning_rate=1e-4")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out
