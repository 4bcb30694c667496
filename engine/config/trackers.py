"""The experiment trackers a run can report to (the `report_to` field): their names, the package each
needs and the command that installs it. Nothing here imports a tracker."""

from __future__ import annotations

import importlib.util

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
    """One line per unknown tracker or missing package, with the fix."""
    errors = []
    names = tracker_names(value)
    if "none" in names:
        errors.append(f"report_to: {value!r} mixes none with trackers; give none alone, or only trackers")
    for name in names:
        if name == "none":
            continue
        if name not in TRACKERS:
            errors.append(f"report_to: unknown tracker {name!r}; use none or any of {', '.join(TRACKERS)}, "
                          "separated by commas")
            continue
        module, install = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            errors.append(f"report_to: {name} is not installed; run `{install}` in TuneDesk's environment, "
                          "or remove it from report_to")
    return errors
