"""Background jobs for long actions outside training (dataset statistics, cleaning, …).

A job runs on its own daemon thread and keeps its state in the engine, so a page refresh or a second
browser polls the same job. Work functions report progress through `JobContext.progress` and stop
early at the next `check()` once cancel is asked for.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import JobError, TuneDeskError

FINISHED = ("done", "failed", "cancelled")
KEEP_FINISHED = 50


class Cancelled(Exception):
    """Raised inside a job's work function when cancel was asked for."""


@dataclass
class Job:
    job_id: str
    kind: str
    state: str = "running"  # running | done | failed | cancelled
    progress: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    failure: TuneDeskError | None = None  # kept to render its message in the reader's language
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # what the job was asked to do, for re-attaching
    cancel_event: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def error_text(self, lang: str = "en") -> str | None:
        return self.failure.render(lang) if self.failure is not None else self.error

    def status(self, lang: str = "en") -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "state": self.state, "progress": round(self.progress, 4),
                "message": self.message, "error": self.error_text(lang), "started_at": self.started_at,
                "ended_at": self.ended_at}


class JobContext:
    def __init__(self, job: Job):
        self._job = job

    def progress(self, fraction: float, message: str = "") -> None:
        self._job.progress = max(0.0, min(1.0, fraction))
        if message:
            self._job.message = message
        self.check()

    def check(self) -> None:
        if self._job.cancel_event.is_set():
            raise Cancelled()


class JobRegistry:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(self, kind: str, work: Callable[[JobContext], Any], meta: dict[str, Any] | None = None) -> str:
        job = Job(f"{kind}-{next(self._ids)}-{int(time.time())}", kind, meta=dict(meta or {}))
        with self._lock:
            self._jobs[job.job_id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), name=f"job-{job.job_id}", daemon=True).start()
        return job.job_id

    def _run(self, job: Job, work: Callable[[JobContext], Any]) -> None:
        try:
            job.result = work(JobContext(job))
            job.state, job.progress = "done", 1.0
        except Cancelled:
            job.state, job.message = "cancelled", "cancelled"
        except TuneDeskError as exc:
            job.state, job.error, job.failure = "failed", str(exc), exc
        except Exception as exc:  # a job thread must report anything, never die silently
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            job.ended_at = time.time()
            job.finished.set()

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j.state in FINISHED]
        for job in sorted(done, key=lambda j: j.started_at)[:-KEEP_FINISHED]:
            del self._jobs[job.job_id]

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobError(f"no job '{job_id}' (finished jobs are kept until {KEEP_FINISHED} newer ones finish)")
        return job

    def latest(self, kind: str) -> Job | None:
        jobs = [j for j in self._jobs.values() if j.kind == kind]
        return max(jobs, key=lambda j: j.started_at) if jobs else None

    def status(self, job_id: str, lang: str = "en") -> dict[str, Any]:
        return self.get(job_id).status(lang)

    def cancel(self, job_id: str) -> str:
        job = self.get(job_id)
        if job.state in FINISHED:
            return job.state
        job.cancel_event.set()
        return "cancelling"

    def wait(self, job_id: str, timeout: float | None = None) -> Any:
        """The job's result; raises its error (as the TuneDeskError it was) if it failed."""
        job = self.get(job_id)
        if not job.finished.wait(timeout):
            raise JobError(f"job {job_id} still running after {timeout} s")
        if job.state == "failed":
            raise JobError(job.error or "failed")
        if job.state == "cancelled":
            raise JobError(f"job {job_id} was cancelled")
        return job.result
