"""The reward settings of a GRPO run as text (`answer_match:1, format:0.5`): parsed and checked before
anything loads. A leaf: the config's rules and the reward set both read it."""

from __future__ import annotations

import math
import re

from engine.config.fields import TrainFields
from engine.errors import ConfigError

BUILTIN = ("answer_match", "format", "length", "contains", "avoid")
NAMES = (*BUILTIN, "python")
REFERENCE_COLUMN = "reference"


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """`answer_match:1, format:0.5` → [("answer_match", 1.0), ("format", 0.5)]; a bare name weighs 1."""
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in spec.replace(";", ",").split(",")):
        if not part:
            continue
        name, _, raw = part.partition(":")
        name = name.strip().lower()
        if name not in NAMES:
            raise ConfigError(f"reward_functions: unknown reward {name!r}; choose from {', '.join(NAMES)} "
                              "(e.g. answer_match:1, format:0.5)")
        try:
            weight = float(raw) if raw.strip() else 1.0
        except ValueError:
            raise ConfigError(f"reward_functions: weight of {name} must be a number, got {raw.strip()!r}") from None
        if not math.isfinite(weight):
            raise ConfigError(f"reward_functions: weight of {name} must be finite, got {raw.strip()!r}")
        if any(n == name for n, _ in out):
            raise ConfigError(f"reward_functions: {name} is listed twice")
        out.append((name, weight))
    return out


def words_of(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def check_spec(config: TrainFields) -> list[str]:
    """Problems with the GRPO reward settings, found before anything loads."""
    try:
        spec = parse_spec(config.reward_functions)
    except ConfigError as exc:
        return [str(exc)]
    names = [n for n, _ in spec]
    errors = []
    if not spec:
        errors.append("reward_functions: GRPO needs at least one reward, e.g. answer_match:1 or length:1 "
                      f"(choose from {', '.join(NAMES)})")
    if "format" in names:
        try:
            re.compile(config.reward_format_pattern)
        except re.error as exc:
            errors.append(f"reward_format_pattern: not a valid regular expression ({exc})")
    if "contains" in names and not words_of(config.reward_contain_words):
        errors.append("reward_contain_words: the contains reward needs comma-separated words to look for")
    if "avoid" in names and not words_of(config.reward_avoid_words):
        errors.append("reward_avoid_words: the avoid reward needs comma-separated words to avoid")
    if "python" in names and not config.reward_file.strip():
        errors.append("reward_file: the python reward needs the path of your .py file with reward functions")
    if config.reward_file.strip() and "python" not in names:
        errors.append("reward_file is set but reward_functions does not list python, so the file would be "
                      "ignored; add python:1 to reward_functions or clear reward_file")
    return errors
