"""Confining typed file paths to allowed folders when the app is shared or password-protected."""

from __future__ import annotations

from pathlib import Path

from engine.config.datasets import dataset_parts
from engine.config.train_config import TrainConfig
from engine.errors import PathNotAllowed
from engine.locations import project_path

# fields whose value may be a path on this machine (output_dir is not one: the app's RunManager puts every
# run in its own outputs folder whatever the config says)
PATH_FIELDS = ("model_name_or_path", "dataset", "reward_file", "adapter_name_or_path")


class PathGuard:
    """No folders means no confinement (a local, single-user app)."""

    def __init__(self, allowed: list[str | Path] | None = None):
        self.allowed = [Path(p).expanduser().resolve() for p in (allowed or [])]

    @property
    def active(self) -> bool:
        return bool(self.allowed)

    def check_path(self, value: str, what: str) -> None:
        if not self.active or not value:
            return
        text = value.strip()
        folder, sep, name = text.rpartition(":")  # "folder:entry" dataset specs
        in_folder = bool(sep and folder and project_path(folder).exists())
        candidate = folder if in_folder else text
        path = project_path(candidate)
        looks_like_path = path.is_absolute() or candidate.startswith((".", "~")) or path.exists()
        if not looks_like_path:
            return  # a hub id such as Qwen/Qwen2.5-0.5B-Instruct
        # an entry is a name in the folder's dataset_info.json; one shaped like a path must stay inside too
        targets = [path.resolve()] + ([(path / name).resolve()] if in_folder else [])
        if not all(any(t == root or root in t.parents for root in self.allowed) for t in targets):
            roots = ", ".join(str(r) for r in self.allowed)
            raise PathNotAllowed(f"{what}: {value} is outside the folders this shared app may read ({roots}). "
                                 "Start TuneDesk with --allow-dir FOLDER to allow it.")

    def check_config(self, config: TrainConfig) -> None:
        for name in PATH_FIELDS:
            # several datasets: each one is checked on its own
            values = dataset_parts(config.dataset) if name == "dataset" else [getattr(config, name)]
            for value in values:
                self.check_path(value, name)
