"""Faults, nothing lost: a full disk while saving, an outputs folder that is read-only or vanishes, the app
killed with SIGKILL in the middle of a checkpoint save, and memory that comes back after many runs.

The disk is really full (a small tmpfs) and the app is really killed (a separate process): nothing is
simulated by patching. Tests that need to mount a tmpfs skip where the machine does not allow it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tiny_config

pytestmark = pytest.mark.faults


@contextlib.contextmanager
def small_disk(path: Path, size: str):
    """A tmpfs of `size` mounted at `path` (a real disk that fills up); skips where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill_disk(folder: Path, leave: int) -> Path:
    """A filler file that leaves about `leave` bytes free on the disk holding `folder`."""
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free
    with filler.open("wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * 2**20
        remaining = free - leave
        while remaining > 0:
            fh.write(chunk[:min(len(chunk), remaining)])
            remaining -= len(chunk)
    return filler


def losses(run) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in run.metrics() if "loss" in m}


@pytest.fixture(scope="module")
def reference(tiny_model, tmp_path_factory):
    """An undisturbed 6-step run saving every 2 steps: its loss curve, and how big its saves are."""
    from engine.runs.queue import RunManager

    folder = tmp_path_factory.mktemp("reference")
    rows = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(12)]
    (folder / "chat.json").write_text(json.dumps(rows))
    config = tiny_config(tiny_model, folder / "chat.json", folder / "o", max_steps=6, save_steps=2,
                         save_total_limit=0)
    manager = RunManager(folder / "outputs")
    run = manager.run(manager.submit(config))
    assert manager.wait(run.run_id, timeout=300) == "completed"
    return run, config


def test_disk_full_while_saving_a_checkpoint_keeps_the_last_one_and_resumes(reference, tmp_path):
    from engine.runs.queue import RunManager
    from engine.runs.rundir import checkpoint_complete
    from engine.runs.storage import folder_bytes, mib

    reference, config = reference
    checkpoint_size = folder_bytes(reference.path / "checkpoint-2")

    with small_disk(tmp_path / "disk", "96m") as disk:
        manager = RunManager(disk / "outputs")
        # room for one checkpoint and a half: checkpoint-2 is saved, the disk fills up while checkpoint-4 is
        filler = fill_disk(disk, leave=checkpoint_size * 3 // 2)
        run_id = manager.submit(config)
        assert manager.wait(run_id, timeout=300) == "failed"
        run = manager.run(run_id)
        status = run.status()
        assert status["error"].startswith("disk full while saving checkpoint-4: "), status["error"]
        assert "free of 96.0 MiB on " + str(disk) in status["error"]
        assert f"a checkpoint of this run takes {mib(checkpoint_size)}" in status["error"]
        assert "resume: checkpoint-2 is complete" in status["suggestion"]
        # the cut-short save is gone, the previous one is intact and nothing partial looks complete
        assert [p.name for p in run.checkpoints()] == ["checkpoint-2"]
        assert run.incomplete_checkpoints() == [] and checkpoint_complete(run.path / "checkpoint-2")
        assert not (run.path / "checkpoint-4").exists() and not run.final_path.exists()
        assert "removed the cut-short save checkpoint-4" in run.log_tail(200)

        # space freed: the run resumes from checkpoint-2 and ends exactly where an undisturbed run ends
        filler.unlink()
        manager.resume(run_id)
        assert manager.wait(run_id, timeout=300) == "completed"
        assert sorted(losses(run)) == list(range(1, 7))
        for step, loss in losses(reference).items():
            assert losses(run)[step] == pytest.approx(loss, rel=1e-4, abs=1e-5), step
        assert (run.final_path / "adapter_model.safetensors").is_file()


def test_disk_full_while_saving_the_final_model_leaves_no_final_folder(reference, tmp_path):
    from engine.runs.queue import RunManager
    from engine.runs.storage import folder_bytes

    reference, config = reference
    with small_disk(tmp_path / "disk", "64m") as disk:
        manager = RunManager(disk / "outputs")
        # the last step's checkpoint fits, the final model does not
        fill_disk(disk, leave=folder_bytes(reference.path / "checkpoint-2")
                  + folder_bytes(reference.final_path) // 2)
        filler = disk / "filler.bin"
        run_id = manager.submit(config.replace(max_steps=2, save_steps=100))
        assert manager.wait(run_id, timeout=300) == "failed"
        run = manager.run(run_id)
        status = run.status()
        assert status["error"].startswith("disk full while saving final.partial: "), status["error"]
        assert "resume: checkpoint-2 is complete" in status["suggestion"]
        assert not run.final_path.exists() and not (run.path / "final.partial").exists()
        filler.unlink()
        manager.resume(run_id)
        assert manager.wait(run_id, timeout=300) == "completed"
        assert (run.final_path / "adapter_model.safetensors").is_file()


def test_a_read_only_outputs_folder_is_named_at_start(tmp_path):
    from engine.errors import StorageError
    from engine.runs.queue import RunManager

    with small_disk(tmp_path / "ro", "4m") as disk:
        (disk / "outputs").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(StorageError, match=r"outputs folder .*/ro/outputs/runs is read-only\. Start TuneDesk "
                                               r"with --outputs"):
            RunManager(disk / "outputs")
        # the app itself: one clear line and exit status 1, not a traceback
        done = subprocess.run([sys.executable, "app.py", "--no-browser", "--outputs", str(disk / "outputs")],
                              cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert "TuneDesk cannot start: the outputs folder" in done.stderr and "read-only" in done.stderr
        assert "Traceback" not in done.stderr


def test_an_outputs_folder_that_vanishes_under_the_app_is_recreated(tiny_model, chat_file, tmp_path):
    from engine.runs.queue import RunManager

    manager = RunManager(tmp_path / "outputs")
    shutil.rmtree(tmp_path / "outputs")
    assert manager.list_runs() == []
    run_id = manager.submit(tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=2))
    assert manager.wait(run_id, timeout=300) == "completed"
    assert (tmp_path / "outputs" / "runs" / run_id / "final").is_dir()


def test_an_outputs_folder_that_becomes_read_only_fails_the_next_start_clearly(tiny_model, chat_file, tmp_path):
    from engine.errors import StorageError
    from engine.runs.queue import RunManager

    with small_disk(tmp_path / "disk", "8m") as disk:
        manager = RunManager(disk / "outputs")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(StorageError, match="is read-only"):
            manager.submit(tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=2))
        assert manager.list_runs() == []


# --- kill -9 of the app in the middle of a checkpoint save --------------------------------------------------

def _catch_mid_save(run_dir: Path, pid: int, deadline: float, min_step: int) -> str | None:
    """Poll for a checkpoint folder (of step >= min_step) being written; freeze the process the moment one
    appears. Returns the name of a checkpoint caught unfinished (the process is then frozen), or None if
    the run ended first."""
    seen: set[str] = set()
    while time.time() < deadline:
        names = [p.name for p in run_dir.glob("checkpoint-*")] if run_dir.is_dir() else []
        fresh = [n for n in names if n not in seen and int(n.split("-")[1]) >= min_step]
        if fresh:
            os.kill(pid, signal.SIGSTOP)
            from engine.runs.rundir import checkpoint_complete

            unfinished = [n for n in fresh if not checkpoint_complete(run_dir / n)]
            if unfinished:
                return unfinished[0]
            seen.update(fresh)
            os.kill(pid, signal.SIGCONT)
        status = json.loads((run_dir / "status.json").read_text()) if (run_dir / "status.json").is_file() else {}
        if status.get("state") in ("completed", "failed", "stopped"):
            return None
        time.sleep(0.0005)
    return None


def _start(client, config_yaml: str) -> str:
    return client.predict(config_yaml, "", "", api_name="/start_run")


def _wait_state(client, run_id: str, states: tuple[str, ...], timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        detail = client.predict(run_id, api_name="/get_run")
        if detail["status"]["state"] in states:
            return detail
        time.sleep(0.5)
    raise TimeoutError(f"{run_id} never reached {states}")


def test_kill_9_mid_checkpoint_save_resumes_from_the_last_complete_one(tiny_model, tmp_path):
    """The app is killed with SIGKILL while a checkpoint is half written. On restart the run is marked
    interrupted, the half-written checkpoint is skipped, the run resumes from the one before, at most
    save_steps of work is lost, and the loss curve equals an uninterrupted run's."""
    import yaml
    from gradio_client import Client

    from tests.app_process import AppProcess

    # a full fine-tune: its checkpoints (weights + optimizer state, ~120 MB) take long enough to catch
    rows = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(24)]
    data = tmp_path / "numbers.json"
    data.write_text(json.dumps(rows))
    config = tiny_config(tiny_model, data, tmp_path / "o", finetuning_type="full", learning_rate=1e-3,
                         max_steps=12, save_steps=2, save_total_limit=0, run_name="killed").to_dict()
    config_yaml = yaml.safe_dump(config)
    outputs = tmp_path / "outputs"

    app = AppProcess(outputs).wait_ready()
    caught = None
    try:
        run_id = _start(Client(app.url, verbose=False), config_yaml)
        caught = _catch_mid_save(outputs / "runs" / run_id, app.proc.pid, time.time() + 240, min_step=4)
        os.kill(app.proc.pid, signal.SIGKILL)
        app.proc.wait(timeout=30)
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
    assert caught is not None, "no checkpoint save was caught unfinished"
    killed_at = int(caught.split("-")[1])

    app = AppProcess(outputs).wait_ready()
    try:
        client = Client(app.url, verbose=False)
        detail = client.predict(run_id, api_name="/get_run")
        assert detail["status"]["state"] == "failed"
        assert detail["status"]["error"].startswith("interrupted")
        resume_point = f"checkpoint-{killed_at - 2}"
        assert detail["checkpoints"] == [f"checkpoint-{s}" for s in range(2, killed_at, 2)]
        log = client.predict(run_id, 400, api_name="/run_log")
        assert f"{caught} is incomplete (the save was cut short): it will not be loaded" in log
        assert f"Resume it to continue from {resume_point}" in detail["status"]["suggestion"]

        client.predict(run_id, "", api_name="/resume_run")
        _wait_state(client, run_id, ("completed",))
        log = client.predict(run_id, 400, api_name="/run_log")
        assert f"resuming from {outputs / 'runs' / run_id / resume_point}" in log
        reference_id = _start(client, yaml.safe_dump({**config, "run_name": "reference"}))
        _wait_state(client, reference_id, ("completed",))
    finally:
        app.stop()

    from engine.runs.rundir import RunDir

    resumed, reference = RunDir(outputs / "runs" / run_id), RunDir(outputs / "runs" / reference_id)
    assert sorted(losses(resumed)) == list(range(1, 13))
    for step, loss in losses(reference).items():
        assert losses(resumed)[step] == pytest.approx(loss, rel=1e-4, abs=1e-5), step
    # same files as the run that was never killed
    shape = sorted(p.name for p in resumed.path.iterdir())
    assert shape == sorted(p.name for p in reference.path.iterdir()), shape


@pytest.mark.slow
def test_memory_comes_back_after_20_mixed_runs(tmp_path):
    """20 runs (LoRA, full, QLoRA, DPO, failed, stopped, repeated) in one app process: once every kind has
    run once, resident memory stays within 10% (bench/memory_runs.py prints the table, also against run 1:
    the first QLoRA and DPO runs raise the level once)."""
    root = Path(__file__).resolve().parents[1]
    figures = tmp_path / "memory.json"
    done = subprocess.run([sys.executable, "bench/memory_runs.py", "--runs", "20", "--json", str(figures)],
                          cwd=root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(figures.read_text())[1:]
    expected = {"lora": "completed", "full": "completed", "qlora": "completed", "dpo": "completed",
                "failed": "failed", "stopped": "stopped"}
    assert [r["state"] for r in rows] == [expected[r["kind"]] for r in rows]
    after_each_kind, last = rows[5]["rss_mib"], rows[-1]["rss_mib"]
    assert abs(last / after_each_kind - 1) <= 0.10, done.stdout
