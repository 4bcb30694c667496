"""Experiment trackers (`report_to`): TensorBoard's events, read back with TensorBoard's own reader, hold the
same losses as metrics.jsonl, also after a resume from an earlier checkpoint; missing trackers are refused
with the command that installs them; the trackers' settings last only as long as the run."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest

from engine.config.trackers import missing_trackers, tracker_errors, tracker_names
from engine.errors import ConfigError
from tests.conftest import run_to_end, stop_after, tiny_config


def tensorboard_losses(run_path: Path) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_path / "tb"))
    events.Reload()
    return {event.step: event.value for event in events.Scalars("train/loss")}


def jsonl_losses(run) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in run.metrics() if "loss" in m}


def test_tensorboard_events_hold_the_losses_of_metrics_jsonl(tiny_model, chat_file, tmp_path):
    config = tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=4)
    assert config.report_to == "tensorboard"  # by default: every run is in TensorBoard with no extra step
    _, run, state = run_to_end(config, tmp_path / "outputs")
    assert state == "completed", run.log_tail()
    written = tensorboard_losses(run.path)
    expected = jsonl_losses(run)
    assert sorted(written) == sorted(expected) == [1, 2, 3, 4]
    for step, loss in expected.items():
        assert written[step] == pytest.approx(loss, rel=1e-6), step  # TensorBoard stores float32


def test_a_run_resumed_from_an_earlier_checkpoint_leaves_one_curve_in_tensorboard(tiny_model, chat_file, tmp_path):
    from engine.runs.queue import RunManager

    config = tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=8, save_steps=2, save_total_limit=0,
                         report_to="tensorboard")
    manager = RunManager(tmp_path / "outputs")
    run_id = manager.submit(config)
    assert stop_after(manager, run_id, 4) == "stopped"
    run = manager.run(run_id)
    stopped_at = max(jsonl_losses(run))
    assert stopped_at >= 4
    # back to checkpoint-2: the steps logged after it are trained again, and TensorBoard drops the old ones
    manager.resume(run_id, "checkpoint-2")
    assert manager.wait(run_id, timeout=300) == "completed", run.log_tail()
    written, expected = tensorboard_losses(run.path), jsonl_losses(run)
    assert sorted(written) == sorted(expected) == list(range(1, 9))
    for step, loss in expected.items():
        assert written[step] == pytest.approx(loss, rel=1e-6), step


def test_report_to_names_each_wrong_tracker_with_the_fix():
    assert tracker_names("none") == [] and tracker_names("") == []
    assert tracker_names(" TensorBoard , mlflow ") == ["tensorboard", "mlflow"]
    errors = tracker_errors("tensorboard, comet")
    assert errors == ["report_to: unknown tracker 'comet'; use none or any of tensorboard, swanlab, mlflow, wandb, "
                      "separated by commas"]
    assert "mixes none with trackers" in tracker_errors("none, tensorboard")[0]
    with pytest.raises(ConfigError, match="unknown tracker 'comet'"):
        tiny_config(Path("m"), Path("d.json"), Path("o"), report_to="comet")


@pytest.mark.parametrize("name", ["swanlab", "mlflow", "wandb"])
def test_a_tracker_that_is_not_installed_is_refused_with_its_install_command(name, tiny_model, chat_file, tmp_path):
    from engine.access.door import Door

    if importlib.util.find_spec(name) is not None:
        pytest.skip(f"{name} is installed here")
    message = f"report_to: {name} is not installed; run `pip install {name}` in TuneDesk's environment, or remove " \
              "it from report_to"
    assert missing_trackers(name) == [message]
    # the config itself still parses: a saved run opens on a machine without its tracker; starting it is refused
    config = tiny_config(tiny_model, chat_file, tmp_path / "o", report_to=name)
    door = Door.open(tmp_path / "outputs")
    with pytest.raises(ConfigError, match=re.escape(message)):
        door.start(config)
    assert door.manager.list_runs() == []


def test_tracker_settings_last_as_long_as_the_run_and_keep_the_users_own(tmp_path, monkeypatch):
    from engine.config.train_config import TrainConfig
    from engine.training.trackers import tracker_environment

    # whether the packages are installed is not what this test is about
    monkeypatch.setattr("engine.training.trackers.check_trackers", lambda value: None)
    run_path = tmp_path / "outputs" / "runs" / "r1"
    config = TrainConfig.__new__(TrainConfig)
    config.report_to = "mlflow, wandb, swanlab"  # a bare config: the packages need not be installed for this
    for key in ("MLFLOW_TRACKING_URI", "WANDB_MODE", "SWANLAB_MODE", "SWANLAB_LOG_DIR", "WANDB_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_PROJECT", "my-team")
    with tracker_environment(config, run_path):
        assert os.environ["MLFLOW_TRACKING_URI"] == (tmp_path / "outputs" / "mlruns").resolve().as_uri()
        assert os.environ["WANDB_MODE"] == "offline" and os.environ["WANDB_DIR"] == str(run_path)
        assert os.environ["SWANLAB_MODE"] == "local"
        assert os.environ["SWANLAB_LOG_DIR"] == str(run_path / "swanlog")
        assert os.environ["WANDB_PROJECT"] == "my-team"
    assert "MLFLOW_TRACKING_URI" not in os.environ and "WANDB_MODE" not in os.environ
    assert os.environ["WANDB_PROJECT"] == "my-team"


def test_mlflow_file_store_in_the_outputs_folder_holds_the_same_losses(tiny_model, chat_file, tmp_path, monkeypatch):
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (requirements-dev.txt installs mlflow-skinny)")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    config = tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=3, report_to="mlflow, tensorboard")
    _, run, state = run_to_end(config, tmp_path / "outputs")
    assert state == "completed", run.log_tail()
    store = (tmp_path / "outputs" / "mlruns").resolve()
    assert store.is_dir() and "MLFLOW_TRACKING_URI" not in os.environ  # set for the run only
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # reading the file store back, as `mlflow ui` would
    client = MlflowClient(tracking_uri=store.as_uri())
    [found] = client.search_runs([client.get_experiment_by_name("tunedesk").experiment_id])
    assert found.info.run_name == run.run_id
    logged = {m.step: m.value for m in client.get_metric_history(found.info.run_id, "loss")}
    assert logged == pytest.approx(jsonl_losses(run), rel=1e-6)
    assert sorted(tensorboard_losses(run.path)) == [1, 2, 3]  # several trackers at once
