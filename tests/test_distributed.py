"""Several processes (torchrun, DDP over gloo on this CPU): the same run directory, the same loss as one
process with the same global batch, stop and resume, and the commands for other machines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import stop_after, tiny_config

pytestmark = pytest.mark.slow


def numbers(tmp_path: Path) -> Path:
    # answers of 1 to 5 sentences: the two halves of a global batch hold different numbers of trained tokens,
    # so one process's mean differs from the mean of the two processes' means (the loss must be divided by
    # the tokens of all processes, as one process divides by all of its own)
    rows = [{"instruction": f"Say the number {i}.", "input": "",
             "output": " ".join([f"The number is {i}."] * (1 + i % 5))} for i in range(32)]
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps(rows))
    return path


def train_losses(run) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in run.metrics() if m.get("type") == "train" and "loss" in m}


def test_two_processes_reach_the_loss_of_one_with_the_same_global_batch(tiny_model, tmp_path):
    from engine.runs.queue import RunManager

    manager = RunManager(tmp_path / "outputs")
    one = tiny_config(tiny_model, numbers(tmp_path), tmp_path / "o", per_device_train_batch_size=4, max_steps=16,
                      learning_rate=2e-2, save_steps=8)
    two = one.replace(per_device_train_batch_size=2, nproc_per_node=2)
    single = manager.run(manager.submit(one))
    assert manager.wait(single.run_id, timeout=300) == "completed", single.log_tail(40)
    double = manager.run(manager.submit(two))
    assert manager.wait(double.run_id, timeout=400) == "completed", double.log_tail(60)

    log = (double.path / "train.log").read_text()
    assert "launching 2 processes: " in log and "torch.distributed.run" in log and "--nproc_per_node 2" in log
    a, b = train_losses(single), train_losses(double)
    assert sorted(b) == list(range(1, 17))  # every step logged once, by rank 0 only
    assert b[16] < b[1] - 0.3, b  # it learns
    # the same global batch: each process gets its half of every batch, so the curves agree step by step
    for step, loss in a.items():
        assert b[step] == pytest.approx(loss, rel=1e-3), (step, loss, b[step])
    # one run directory of the same shape
    assert sorted(p.name for p in double.path.iterdir()) == sorted(p.name for p in single.path.iterdir())
    assert (double.final_path / "adapter_model.safetensors").is_file()
    status = double.status()
    assert status["state"] == "completed" and status["step"] == 16


def test_a_two_process_run_stops_and_resumes(tiny_model, tmp_path):
    from engine.runs.queue import RunManager

    manager = RunManager(tmp_path / "outputs")
    config = tiny_config(tiny_model, numbers(tmp_path), tmp_path / "o", per_device_train_batch_size=2,
                         nproc_per_node=2, max_steps=200, save_steps=1000)
    run_id = manager.submit(config)
    assert stop_after(manager, run_id, 3, timeout=300) == "stopped"
    run = manager.run(run_id)
    status = run.status()
    stopped_at = status["step"]
    assert [p.name for p in run.checkpoints()] == [f"checkpoint-{stopped_at}"], run.log_tail(40)
    assert not (run.path / "stop.request").exists()
    manager.resume(run_id)
    # let it run a few steps past the stop, then stop again: both processes resumed from the same point
    assert stop_after(manager, run_id, stopped_at + 3, timeout=300) == "stopped"
    steps = sorted(train_losses(run))
    assert steps == list(range(1, run.status()["step"] + 1)), steps
    assert "resuming from" in run.log_tail(400)


def test_other_machines_get_their_commands(tiny_model, tmp_path):
    from engine.config.train_config import TrainConfig
    from engine.errors import ConfigError
    from tabs.train_form import command_preview

    config = TrainConfig.from_dict({"nnodes": 3, "nproc_per_node": 2, "master_addr": "10.0.0.5",
                                    "master_port": 29555})
    _, command = command_preview(config)
    for node in (1, 2):
        assert (f"python -m torch.distributed.run --nnodes 3 --node_rank {node} --nproc_per_node 2 --master_addr "
                f"10.0.0.5 --master_port 29555 -m engine.training.worker --config config.yaml") in command
    with pytest.raises(ConfigError, match="master_port: set a fixed port"):
        TrainConfig.from_dict({"nnodes": 2, "master_addr": "10.0.0.5"})
    with pytest.raises(ConfigError, match="master_addr: 127.0.0.1 cannot be reached"):
        TrainConfig.from_dict({"nnodes": 2, "master_port": 29555})
