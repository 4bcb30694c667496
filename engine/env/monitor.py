"""Hardware sampling for the live charts: one thread, about 1 Hz, a rolling window in memory.

GPUs through pynvml (nvidia-ml-py, the same readings as env/gpus.py) when an NVIDIA driver answers; CPU and
RAM through psutil always.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import psutil

from engine.env.gpus import live_reading


class _Nvml:
    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.names: list[str] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(handle)
                self.handles.append(handle)
                self.names.append(name.decode() if isinstance(name, bytes) else name)
        except Exception:  # no driver, no GPU, or no library: CPU-only charts
            self.handles = []

    def sample(self) -> list[dict[str, Any]]:
        nv = getattr(self, "nvml", None)
        return [{"index": i, "name": self.names[i], **live_reading(nv, handle)}
                for i, handle in enumerate(self.handles)]


class HardwareMonitor:
    def __init__(self, interval_s: float = 1.0, window: int = 300):
        self.interval_s = interval_s
        self.samples: deque[dict[str, Any]] = deque(maxlen=window)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nvml: _Nvml | None = None
        self._process = psutil.Process()

    def start(self) -> HardwareMonitor:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="tunedesk-monitor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        self._nvml = _Nvml()
        psutil.cpu_percent(interval=None)  # the first call only sets the baseline
        while not self._stop.wait(self.interval_s):
            self.samples.append(self.sample())

    def sample(self) -> dict[str, Any]:
        mem = psutil.virtual_memory()
        return {
            "time": time.time(),
            "cpu_percent": psutil.cpu_percent(interval=None),
            "ram_used_gb": (mem.total - mem.available) / 2**30,
            "ram_total_gb": mem.total / 2**30,
            "process_rss_gb": self._process.memory_info().rss / 2**30,
            "gpus": self._nvml.sample() if self._nvml else [],
        }

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self.samples)
