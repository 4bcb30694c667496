"""The experiment trackers of `report_to`, through the Trainer's own integrations, writing beside the run
so they work offline: TensorBoard events in <run>/tb, SwanLab in local mode in <run>/swanlog, MLflow in a
file store <outputs>/mlruns, Weights & Biases offline in <run>/wandb. A tracker the user pointed elsewhere
(its own environment variables) keeps that setting."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.config.trackers import check_trackers, tracker_names
from engine.config.train_config import TrainConfig

TENSORBOARD_DIR = "tb"


def tensorboard_callbacks(config: TrainConfig, run_path: Path, resume_step: int = 0) -> list[Any]:
    """TensorBoard's callback with its writer in <run>/tb. After a resume the events past the checkpoint are
    purged, as metrics.jsonl drops them, so TensorBoard shows one curve, not the abandoned tail too."""
    if "tensorboard" not in tracker_names(config.report_to):
        return []
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    writer = SummaryWriter(log_dir=str(run_path / TENSORBOARD_DIR), purge_step=resume_step + 1 if resume_step
                           else None)
    return [TensorBoardCallback(writer)]


def integration_names(config: TrainConfig) -> list[str]:
    """The trackers the Trainer sets up from its `report_to` argument (TensorBoard has its own writer)."""
    return [name for name in tracker_names(config.report_to) if name != "tensorboard"]


def _defaults(config: TrainConfig, run_path: Path) -> dict[str, str]:
    names, outputs = tracker_names(config.report_to), run_path.parent.parent
    env: dict[str, str] = {}
    if "mlflow" in names:
        # a file store needs no database package and opens with `mlflow ui`; MLflow 3 asks to opt in to it
        env |= {"MLFLOW_TRACKING_URI": (outputs / "mlruns").resolve().as_uri(), "MLFLOW_EXPERIMENT_NAME": "tunedesk",
                "MLFLOW_ALLOW_FILE_STORE": "true"}
    if "swanlab" in names:
        env |= {"SWANLAB_MODE": "local", "SWANLAB_LOG_DIR": str(run_path / "swanlog"), "SWANLAB_PROJECT": "tunedesk"}
    if "wandb" in names:
        env |= {"WANDB_MODE": "offline", "WANDB_DIR": str(run_path), "WANDB_PROJECT": "tunedesk"}
    return env


@contextlib.contextmanager
def tracker_environment(config: TrainConfig, run_path: Path) -> Iterator[dict[str, str]]:
    """The trackers' settings for the length of a run (the integrations read them when training begins);
    variables the user has set are left alone, and everything set here is taken back afterwards."""
    check_trackers(config.report_to)
    added = {key: value for key, value in _defaults(config, run_path).items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield added
    finally:
        _finish(tracker_names(config.report_to))
        for key in added:
            os.environ.pop(key, None)


def _finish(names: list[str]) -> None:
    """End this run's tracker runs: the integrations reuse an open one, so the next run in this process would
    log into this run's (and a failed run leaves MLflow's open)."""
    ends = {"wandb": "finish", "swanlab": "finish", "mlflow": "end_run"}
    for name in names:
        module = sys.modules.get(name)
        if module is not None and name in ends:
            try:
                getattr(module, ends[name])()
            except Exception:  # noqa: BLE001 - closing a tracker must never change how the run ended
                pass
