"""The experiment trackers a run can report to (the `report_to` field): their names, the package each
needs and the command that installs it. Nothing here imports a tracker."""

from __future__ import annotations

import importlib.util

from engine.errors import ConfigError

# name → (module the Trainer's integration imports, how to install it)
TRACKERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "pip install tensorboard"),
    "swanlab": ("swanlab", "pip install swanlab"),
    "mlflow": ("mlflow", "pip install mlflow"),
    "wandb": ("wandb", "pip install wandb"),
}


def tracker_names(value: str) -> list[str]:
    """The trackers a `report_to` value names: none, one, or several separated by commas."""
    names = [part.strip().lower() for part in (value or "").split(",") if part.strip()]
    return [] if names in ([], ["none"]) else names


def tracker_errors(value: str) -> list[str]:
    """One line per unknown tracker, with the fix (whether each is installed is asked when a run starts, so
    a saved run still opens on a machine without its trackers)."""
    errors = []
    names = tracker_names(value)
    if "none" in names:
        errors.append(f"report_to: {value!r} mixes none with trackers; give none alone, or only trackers")
    for name in names:
        if name != "none" and name not in TRACKERS:
            errors.append(f"report_to: unknown tracker {name!r}; use none or any of {', '.join(TRACKERS)}, "
                          "separated by commas")
    return errors


def missing_trackers(value: str) -> list[str]:
    """One line per named tracker whose package is not installed here, with the command that installs it."""
    return [f"report_to: {name} is not installed; run `{TRACKERS[name][1]}` in TuneDesk's environment, or remove "
            "it from report_to" for name in tracker_names(value)
            if name in TRACKERS and importlib.util.find_spec(TRACKERS[name][0]) is None]


def check_trackers(value: str) -> None:
    """Refuse a run whose trackers are not installed, naming each with its install command."""
    missing = missing_trackers(value)
    if missing:
        raise ConfigError("\n".join(missing))
