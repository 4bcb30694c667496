"""Turning a YAML, form or CLI value into a field's type, or an error naming the field and what it takes."""

from __future__ import annotations

import difflib
import math
from typing import Any

from engine.config.field_info import FieldInfo
from engine.errors import ConfigError


def unknown_key_message(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    return f"{key}: unknown key{hint}"


def coerce(name: str, value: Any, typ: Any, info: FieldInfo) -> Any:
    """Turn a YAML/form/CLI value into the field's type, or raise naming the field and what it takes."""
    out: Any
    if typ is bool:
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            out = value.strip().lower() in ("true", "yes", "on", "1")
        else:
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
    elif typ is int:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number) or number != int(number):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
        out = int(number)
    elif typ is float:
        try:
            out = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            out = math.nan
        if not math.isfinite(out):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
    else:
        out = "" if value is None else str(value).strip()
    if info.choices is not None and out not in info.choices:
        allowed = ", ".join(str(c) for c in info.choices)
        raise ConfigError(f"{name}: {value!r} is not one of: {allowed}")
    if info.minimum is not None and (out <= info.minimum if info.exclusive_min else out < info.minimum):
        bound = f"> {info.minimum:g}" if info.exclusive_min else f">= {info.minimum:g}"
        raise ConfigError(f"{name}: must be {bound}, got {value!r}")
    if info.maximum is not None and out > info.maximum:
        raise ConfigError(f"{name}: must be <= {info.maximum:g}, got {value!r}")
    return out
