"""The YAML presets shipped in presets/, each with a header comment saying what it is for, and a config
built from a preset or YAML text plus overrides (what the API's start_run takes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.config.train_config import TrainConfig
from engine.config.yaml_io import load_yaml, load_yaml_text
from engine.errors import ConfigError
from engine.locations import PRESETS_DIR


def preset_paths() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESETS_DIR.glob("*.yaml"))}


def preset_description(path: Path, lang: str = "en") -> str:
    """The header comment in one language: lines starting `# zh:` are the Chinese text."""
    english, chinese = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text.startswith("zh:"):
            chinese.append(text[3:].strip())
        else:
            english.append(text)
    return "\n".join(chinese if lang == "zh" and chinese else english)


def load_preset(name: str) -> TrainConfig:
    paths = preset_paths()
    if name not in paths:
        raise ConfigError(f"no preset '{name}'; available: {', '.join(paths)}")
    return load_yaml(paths[name])


def build_config(yaml_text: str = "", preset: str = "", overrides: dict[str, Any] | str | None = None) -> TrainConfig:
    """A preset or YAML text (or the defaults), then overrides given as a mapping or as YAML/JSON text."""
    if yaml_text.strip() and preset.strip():
        raise ConfigError("give either yaml_text or preset, not both")
    config = load_preset(preset.strip()) if preset.strip() else load_yaml_text(yaml_text or "{}", "yaml_text")
    if isinstance(overrides, str):
        try:
            overrides = yaml.safe_load(overrides) if overrides.strip() else {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"overrides: not valid YAML/JSON ({exc})") from exc
    if overrides:
        if not isinstance(overrides, dict):
            raise ConfigError("overrides: expected a mapping such as {\"learning_rate\": 1e-4}")
        config = config.replace(**overrides)
    return config
