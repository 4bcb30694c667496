"""The dataset field's several datasets and the mix field's shares, read from the config's text."""

from __future__ import annotations

from engine.errors import ConfigError


def dataset_parts(spec: str) -> list[str]:
    """The datasets a `dataset` value names: one, or several separated by commas."""
    return [part.strip() for part in (spec or "").split(",") if part.strip()]


def mix_weights(mix: str, count: int) -> list[float]:
    """The share of each dataset (summing to 1); equal-by-size (each in full) when `mix` is empty."""
    if not mix.strip():
        return []
    try:
        weights = [float(w) for w in mix.split(",") if w.strip()]
    except ValueError as exc:
        raise ConfigError(f"mix: {mix!r} is not a list of numbers such as 0.7, 0.3") from exc
    if len(weights) != count:
        raise ConfigError(f"mix: {len(weights)} shares for {count} datasets; give one share per dataset, in the "
                          "order of the dataset field")
    if any(w <= 0 for w in weights):
        raise ConfigError(f"mix: every share must be above 0, got {mix!r}")
    total = sum(weights)
    return [w / total for w in weights]
