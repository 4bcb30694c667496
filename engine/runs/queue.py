"""RunManager: the process-wide queue of runs, executed one at a time on a background thread.

Nothing here waits on a reader. Readers (the UI, the CLI, the API) look at run directories and drain
the live event queue into a per-run cache that every browser shares.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import RunError
from engine.runs.compare import compare_runs
from engine.runs.execute import execute
from engine.runs.labels import LABEL_FILE, matches, read_label, write_label
from engine.runs.lineage_graph import lineage_graph
from engine.runs.rundir import ACTIVE, RUN_ID, RunDir
from engine.runs.storage import ensure_writable
from engine.text.message import say

STALL_AFTER_S = 600.0


@dataclass
class _Job:
    run: RunDir
    resume_from: str | None
    stop: threading.Event


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunManager:
    def __init__(self, outputs_dir: str | Path, stall_after_s: float = STALL_AFTER_S):
        self.outputs = Path(outputs_dir).resolve()
        self.root = self.outputs / "runs"
        ensure_writable(self.root)  # a read-only or uncreatable outputs folder is named at start, not mid-run
        self.events: queue.Queue = queue.Queue(maxsize=10_000)
        self.stall_after_s = stall_after_s
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._live: dict[str, list[dict[str, Any]]] = {}
        self._file_cache: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self._summaries: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._worker: threading.Thread | None = None
        # called before each run starts; each may free memory (Compare Chat's models) and say so in the log
        self.before_run: list[Any] = []
        # called with each run that completed (the comparison report); the run stays completed whatever they do
        self.after_completed: list[Callable[[RunDir], None]] = []
        self.recover_interrupted()

    # --- queue and worker -------------------------------------------------------------------
    def submit(self, config: TrainConfig) -> str:
        config = config.replace(output_dir=str(self.outputs))
        self.check_outputs()
        run = RunDir.create(self.root, config)
        run.log(f"queued run {run.run_id}")
        self._enqueue(_Job(run, None, threading.Event()))
        return run.run_id

    def resume(self, run_id: str, checkpoint: str | None = None) -> str:
        run = self.run(run_id)
        state = run.status().get("state")
        if state in ACTIVE:
            raise RunError(f"run {run_id} is {state}; stop it before resuming")
        if state == "completed":
            raise RunError(f"run {run_id} already completed; start a new run to train further")
        point = run.path / checkpoint if checkpoint else run.latest_checkpoint()
        if point is not None and point.is_dir() and point not in run.checkpoints():
            names = ", ".join(p.name for p in run.checkpoints()) or "none"
            raise RunError(f"{point.name} of run {run_id} is incomplete (its save was cut short); resume from a "
                           f"complete one instead: {names}")
        if point is None or not point.is_dir():
            names = ", ".join(p.name for p in run.checkpoints()) or "none"
            raise RunError(f"run {run_id} has no checkpoint {checkpoint or ''} to resume from (it has: {names}); "
                           "start it again instead")
        self.check_outputs()
        run.write_status(state="pending", error=None, suggestion=None, error_text=None, suggestion_text=None,
                         retry_with=None, pid=os.getpid())
        run.log(f"queued to resume from {point.name}")
        self._live.pop(run_id, None)  # events past the checkpoint are replayed by the resumed run
        self._enqueue(_Job(run, str(point), threading.Event()))
        return run_id

    def check_outputs(self) -> None:
        """Before anything is written: the outputs folder is created again if it vanished, and must be
        writable (StorageError names the folder and the fix)."""
        if ensure_writable(self.root):
            print(f"TuneDesk: the outputs folder {self.root} was missing; created it again", flush=True)

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="tunedesk-trainer", daemon=True)
                self._worker.start()
        self._wake.set()

    def _work(self) -> None:
        while True:
            with self._lock:
                job = self._jobs.popleft() if self._jobs else None
                self._current = job
            if job is None:
                self._wake.clear()
                if not self._wake.wait(timeout=5.0):
                    with self._lock:
                        if not self._jobs:
                            self._worker = None
                            return
                continue
            for hook in self.before_run:
                try:
                    note = hook()
                except Exception as exc:  # freeing memory is best effort; the run goes on
                    note = f"could not free memory before the run: {exc}"
                if note:
                    job.run.log(note)
            watchdog = threading.Thread(target=self._watch, args=(job,), daemon=True)
            watchdog.start()
            try:
                state = execute(job.run, job.stop, self.events, job.resume_from)
                if state == "completed" and not job.stop.is_set():
                    self._after(job.run)
            finally:
                with self._lock:
                    self._current = None

    def _after(self, run: RunDir) -> None:
        for hook in self.after_completed:
            try:
                hook(run)
            except Exception as exc:  # noqa: BLE001 - a report must never turn a completed run into a failure
                run.log(f"after the run: {type(exc).__name__}: {exc}")

    def _watch(self, job: _Job) -> None:
        """Stall watchdog: flags a run that has made no step for stall_after_s."""
        while True:
            with self._lock:
                if self._current is not job:
                    return
            status = job.run.status()
            last = max(status.get("last_step_at") or 0, status.get("started_at") or 0) or time.time()
            idle = time.time() - last
            alerts = [a for a in status.get("alerts", []) if a.get("key") != "stall"]
            if status.get("state") == "running" and idle > self.stall_after_s:
                message = say("run.stall", minutes=f"{idle / 60:.0f}")
                alerts.append({"level": "warning", "key": "stall", "time": time.time(), "message": str(message),
                               "text": message.to_dict()})
                job.run.write_status(alerts=alerts)
            elif len(alerts) != len(status.get("alerts", [])):
                job.run.write_status(alerts=alerts)
            time.sleep(min(5.0, self.stall_after_s / 4))

    # --- actions ----------------------------------------------------------------------------
    def stop(self, run_id: str) -> str:
        run = self.run(run_id)
        with self._lock:
            if self._current is not None and self._current.run.run_id == run_id:
                self._current.stop.set()
                run.log("stop requested: finishing the current step and saving a checkpoint")
                return "stopping"
            for job in list(self._jobs):
                if job.run.run_id == run_id:
                    self._jobs.remove(job)
                    run.write_status(state="stopped", ended_at=time.time())
                    run.log("removed from the queue before it started")
                    return "stopped"
        raise RunError(f"run {run_id} is not running or queued (state: {run.status().get('state')})")

    def delete(self, run_id: str) -> None:
        run = self.run(run_id)
        if run.status().get("state") in ACTIVE and self._is_ours(run):
            raise RunError(f"run {run_id} is {run.status().get('state')}; stop it before deleting")
        # only the run's own folder goes: models or datasets it points to live elsewhere
        shutil.rmtree(run.path)
        self._live.pop(run_id, None)
        self._file_cache.pop(run_id, None)

    def _is_ours(self, run: RunDir) -> bool:
        with self._lock:
            jobs = list(self._jobs) + ([self._current] if self._current else [])
        return any(j.run.run_id == run.run_id for j in jobs)

    # --- reading ----------------------------------------------------------------------------
    def search(self, query: str = "") -> list[dict[str, Any]]:
        """The runs whose id, name, tags, model, method or state hold every word of `query`."""
        return [summary for summary in self.list_runs() if matches(summary, query)]

    def label_of(self, run_id: str) -> dict[str, Any]:
        return read_label(self.run(run_id))

    def label(self, run_id: str, name: str | None = None, tags: str | list[str] | None = None) -> dict[str, Any]:
        """Give a run a name and tags (its id stays; None keeps what was saved); returns them as saved."""
        return write_label(self.run(run_id), name, tags)

    def compare(self, run_ids: list[str]) -> dict[str, Any]:
        """Runs side by side (engine/runs/compare.py), each id checked as every run lookup checks it."""
        return compare_runs([self.run(run_id) for run_id in run_ids])

    def lineage(self, run_id: str) -> dict[str, Any]:
        """Where a run came from and what came out of it (engine/runs/lineage_graph.py)."""
        return lineage_graph(self.run(run_id))

    def run(self, run_id: str) -> RunDir:
        text = str(run_id)
        shown = text if len(text) <= 80 else text[:80] + "…"
        # ids are made by RunDir.create: letters, digits, . _ -; anything else is no run, asked of no filesystem
        if not RUN_ID.fullmatch(text):
            raise RunError(f"no run '{shown}': a run id looks like 20260101-120000-model-sft-lora-ab12")
        path = (self.root / text).resolve()
        if path.parent != self.root or not (path / "status.json").is_file():
            raise RunError(f"no run '{shown}' in {self.root}")
        return RunDir(path)

    def list_runs(self) -> list[dict[str, Any]]:
        """Summaries of every run, re-read only for runs whose files changed (the UI polls this)."""
        out = []
        if not self.root.is_dir():  # the outputs folder vanished: no runs to show (the next start recreates it)
            return out
        for path in sorted(self.root.iterdir(), reverse=True):
            try:
                label = path / LABEL_FILE
                key = ((path / "status.json").stat().st_mtime_ns, (path / "config.yaml").stat().st_mtime_ns,
                       label.stat().st_mtime_ns if label.exists() else 0)
            except OSError:
                continue
            cached = self._summaries.get(path.name)
            if cached is None or cached[0] != key or cached[1]["state"] in ACTIVE:
                cached = (key, self.summary(RunDir(path)))
                self._summaries[path.name] = cached
            out.append(cached[1])
        return out

    def summary(self, run: RunDir) -> dict[str, Any]:
        status = run.status()
        try:
            config = run.config()
            model, method = config.model_name_or_path, f"{config.method}/{config.finetuning_type}"
        except Exception:  # a hand-edited config must not break the runs list
            model, method = "?", "?"
        started, ended = status.get("started_at"), status.get("ended_at")
        duration = (ended or time.time()) - started if started else None
        label = read_label(run)
        return {"run_id": run.run_id, "name": label["name"], "tags": label["tags"], "model": model, "method": method,
                "state": status.get("state"),
                "step": status.get("step", 0), "max_steps": status.get("max_steps", 0),
                "progress": status.get("progress", 0.0), "final_loss": status.get("final_loss"),
                "last_loss": status.get("last_loss"), "started_at": started,
                "duration_s": round(duration, 1) if duration else None}

    def poll(self) -> None:
        """Move queued live events into the shared per-run cache."""
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if event.get("type") in ("train", "eval", "summary"):
                self._live.setdefault(event["run_id"], []).append(event)

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        """A run's metric events: from the file, topped up with live events not yet on disk."""
        self.poll()
        run = self.run(run_id)
        size = run.metrics_path.stat().st_size if run.metrics_path.exists() else 0
        cached = self._file_cache.get(run_id)
        if cached is None or cached[0] != size:  # re-read only when the file grew (or shrank on resume)
            cached = (size, run.metrics())
            self._file_cache[run_id] = cached
        events = cached[1]
        seen = {(e.get("type"), e.get("step")) for e in events}
        extra = [e for e in self._live.get(run_id, []) if (e.get("type"), e.get("step")) not in seen]
        return events + extra

    def current_run_id(self) -> str | None:
        with self._lock:
            return self._current.run.run_id if self._current else None

    def queued(self) -> list[str]:
        with self._lock:
            return [j.run.run_id for j in self._jobs]

    def wait(self, run_id: str, timeout: float = 600.0, poll_s: float = 0.2) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.run(run_id).status().get("state")
            if state not in ACTIVE and not self._is_ours(self.run(run_id)):
                return state
            time.sleep(poll_s)
        raise TimeoutError(f"run {run_id} still {self.run(run_id).status().get('state')} after {timeout:.0f} s")

    def recover_interrupted(self) -> None:
        """Runs left pending/running by a process that died are marked failed, resumable if checkpointed."""
        for path in self.root.iterdir():
            run = RunDir(path)
            status = run.status()
            if status.get("state") not in ACTIVE:
                continue
            pid = status.get("pid")
            if pid and pid != os.getpid() and _pid_alive(pid):
                continue  # another live TuneDesk process owns it
            point = run.latest_checkpoint()
            for broken in run.incomplete_checkpoints():
                run.log(f"{broken.name} is incomplete (the save was cut short): it will not be loaded")
            suggestion = (f"Resume it to continue from {point.name}." if point else "Start it again; it had not "
                          "saved a complete checkpoint yet.")
            run.write_status(state="failed", error="interrupted: the process running it stopped",
                             suggestion=suggestion, ended_at=status.get("ended_at") or time.time())
            run.log("marked failed: interrupted (the process running it stopped)")
