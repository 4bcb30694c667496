"""Launching the real app (python app.py) on a free port for HTTP and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from engine.training.launch import free_port
from tests.conftest import ROOT


class AppProcess:
    def __init__(self, outputs: Path, *flags: str, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or outputs.parent / f"app-{self.port}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--no-browser", "--port", str(self.port), "--outputs", str(outputs), *flags],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> AppProcess:
        """Ready when Gradio itself answers (the starting page answers everything with HTML)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/config", timeout=2) as resp:
                    if "json" in resp.headers.get("Content-Type", ""):
                        return self
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # gradio is up, behind a login
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"app not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve(tmp_path_factory, name: str, *flags: str):
    """Generator body for a module-scoped fixture: a running app on its own outputs folder."""
    process = AppProcess(tmp_path_factory.mktemp(name) / "outputs", *flags).wait_ready()
    try:
        yield process
    finally:
        process.stop()
