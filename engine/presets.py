"""The YAML presets shipped in presets/, each with a header comment saying what it is for."""

from __future__ import annotations

from pathlib import Path

from engine.config import TrainConfig, load_yaml

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"


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
        from engine.config import ConfigError

        raise ConfigError(f"no preset '{name}'; available: {', '.join(paths)}")
    return load_yaml(paths[name])
