"""Hardware sampling, the charts drawn from it, and the alerts a run raises."""

from __future__ import annotations

import queue
import threading
import time

from engine.config.train_config import TrainConfig
from engine.env.monitor import HardwareMonitor
from engine.runs.rundir import RunDir
from tabs.charts import hardware_figure, loss_figure, smooth


def test_monitor_samples_cpu_and_ram_in_the_background():
    monitor = HardwareMonitor(interval_s=0.1, window=5).start()
    time.sleep(0.8)
    monitor.stop()
    samples = monitor.snapshot()
    assert 3 <= len(samples) <= 5  # a rolling window
    last = samples[-1]
    assert 0 <= last["cpu_percent"] <= 100 and 0 < last["ram_used_gb"] < last["ram_total_gb"]
    figure = hardware_figure(samples, "en")
    assert [trace.name for trace in figure.data] == ["CPU %", "RAM used (GiB)"]


def test_gpu_samples_become_per_gpu_traces():
    now = time.time()
    gpu = {"index": 0, "name": "RTX 4090", "util": 97, "mem_used_gb": 20.5, "mem_total_gb": 24.0, "temp_c": 71,
           "power_w": 410.0}
    samples = [{"time": now - 1, "cpu_percent": 10, "ram_used_gb": 8, "ram_total_gb": 64, "gpus": [gpu]},
               {"time": now, "cpu_percent": 12, "ram_used_gb": 8, "ram_total_gb": 64, "gpus": [gpu]}]
    figure = hardware_figure(samples, "zh")
    names = [trace.name for trace in figure.data]
    assert names == ["GPU 0 利用率 %", "GPU 0 显存 (GiB)", "GPU 0 温度 °C", "GPU 0 功耗 W"]
    assert list(figure.data[1].y) == [20.5, 20.5]


def test_loss_chart_smooths_and_shows_eval():
    metrics = [{"step": i, "loss": 2.0 / i} for i in range(1, 6)] + [{"step": 5, "eval_loss": 0.5}]
    figure = loss_figure(metrics, "en")
    assert [t.name for t in figure.data] == ["train", "train (smoothed)", "eval"]
    assert smooth([1.0, 1.0, 1.0]) == [1.0, 1.0, 1.0]  # debiased: a flat series stays flat


def test_low_disk_space_raises_an_alert_before_a_checkpoint(tmp_path):
    from engine.training.callbacks import EventCallback

    run = RunDir.create(tmp_path / "runs", TrainConfig(dataset="x.json"))
    callback = EventCallback(run, queue.Queue(), threading.Event(), checkpoint_bytes=10**18)
    callback._check_disk()
    alerts = run.status()["alerts"]
    assert len(alerts) == 1 and alerts[0]["key"] == "disk_low" and "lower save_total_limit" in alerts[0]["message"]
    callback._check_disk()
    assert len(run.status()["alerts"]) == 1  # replaced, not piled up


def test_full_event_queue_drops_the_oldest_instead_of_blocking():
    from engine.training.callbacks import publish

    events: queue.Queue = queue.Queue(maxsize=2)
    for i in range(5):
        publish(events, {"step": i})
    assert [events.get_nowait()["step"] for _ in range(2)] == [3, 4]


def test_stall_watchdog_flags_a_run_without_steps(tiny_model, chat_file, outputs):
    from engine.runs.queue import RunManager
    from tests.conftest import tiny_config

    manager = RunManager(outputs, stall_after_s=0.2)  # far shorter than loading a model takes
    run_id = manager.submit(tiny_config(tiny_model, chat_file, outputs, max_steps=3))
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline and manager.run(run_id).status().get("state") in ("pending", "running"):
        seen += [a for a in manager.run(run_id).status().get("alerts", []) if a["key"] == "stall"]
        time.sleep(0.02)
    assert seen and "no training step for" in seen[0]["message"]
