"""Runs on more than one process: launched with torchrun (DDP), followed through the run directory.

The app's trainer thread starts `python -m torch.distributed.run … -m engine.training.worker RUN_DIR`
and waits on it. Inside, every process runs the same `engine.runs.execute.execute`; only rank 0 writes the run
directory (status, metrics, log, checkpoints, final model), so the UI follows it exactly as it follows
an in-process run. Stop is a file the app creates in the run directory; the processes agree on it at
each step end (engine/training/distributed.py), so all of them stop at the same step and save the same
checkpoint. Nothing here imports torch or transformers: the Train form's command preview uses it.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from engine.locations import PROJECT_ROOT
from engine.runs.rundir import ACTIVE, RunDir

STOP_FILE = "stop.request"
ROOT = PROJECT_ROOT


def wants_processes(config: Any) -> bool:
    return config.processes > 1


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def torchrun_args(config: Any, node_rank: int, port: int) -> list[str]:
    return ["--nnodes", str(config.nnodes), "--node_rank", str(node_rank), "--nproc_per_node",
            str(config.nproc_per_node), "--master_addr", config.master_addr, "--master_port", str(port)]


def other_machine_commands(config: Any, port: int) -> list[str]:
    """What to run on machines 1 … nnodes-1: the run's config.yaml copied there, with the same model and
    data paths."""
    return [shlex.join(["python", "-m", "torch.distributed.run", *torchrun_args(config, node, port),
                        "-m", "engine.training.worker", "--config", "config.yaml"])
            for node in range(1, config.nnodes)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Workers must not outlive the app that launched them (a killed app leaves no orphan training)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def launch(run: RunDir, config: Any, stop: threading.Event, resume_from: str | None) -> str:
    """Run `config` as nproc_per_node processes here (node 0); returns the final state."""
    port = config.master_port or free_port()
    stop_file = run.path / STOP_FILE
    stop_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", *torchrun_args(config, 0, port),
               "-m", "engine.training.worker", str(run.path), *(["--resume", resume_from] if resume_from else [])]
    run.log(f"launching {config.processes} processes: {shlex.join(command)}")
    for node, line in enumerate(other_machine_commands(config, port), start=1):
        run.log(f"on machine {node}, with this run's config.yaml copied there: {line}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1)
                                                                         // config.nproc_per_node)))}
    with run.log_path.open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        while proc.poll() is None:
            if stop.is_set() and not stop_file.exists():
                stop_file.touch()
            time.sleep(0.3)
    stop_file.unlink(missing_ok=True)
    status = run.status()
    state = status.get("state")
    if state in ACTIVE or state is None:
        tail = run.log_tail(15)
        state = "failed"
        run.write_status(state="failed", ended_at=time.time(),
                         error=f"the training processes exited with code {proc.returncode} before finishing",
                         suggestion=f"See train.log for each process's output. Last lines: {tail[-300:]}")
    return state
