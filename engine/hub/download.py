"""Model downloads as background jobs: one at a time (the others queue), progress in bytes with speed
and ETA, cancel, resume after a dropped connection or a killed app, and a load check at the end.

Hugging Face models land in Hugging Face's own cache layout (blobs named by checksum, a snapshot folder
of links, a ref), so transformers, `scan_cache_dir` and the Train tab find them like any cached model;
the snapshot appears only once every file is complete and loads. ModelScope models go through its
client into its cache. Each download's state is a small JSON file, so after a restart the interrupted
ones are listed and continue from their partial files. Tokens are held in memory only."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import HubUnreachable, ModelError
from engine.hub.clients import (
    HUB_NAMES,
    HubAccess,
    RemoteFile,
    accesses,
    auth_headers,
    check_repo_id,
    file_url,
    hub_error,
    repo_info,
)
from engine.hub.fetch import fetch, place
from engine.hub.verify import check_loadable
from engine.jobs import FINISHED, Cancelled, JobContext, JobRegistry
from engine.locations import cache_root, hf_repo_dir, modelscope_root

SKIP = ("*.onnx", "onnx/*", "*.msgpack", "*.h5", "*.ot", "*.tflite", "original/*", "openvino/*", "coreml/*",
        "*.mlmodel", "flax_model*", "tf_model*", "rust_model*", ".gitattributes")
SMALL = ("*.json", "*.txt", "*.model", "*.jinja", "*.md", "*.tiktoken", "*.py")
SAVE_EVERY_S = 1.0


def select_files(files: list[RemoteFile], gguf_file: str = "") -> list[RemoteFile]:
    """What training needs: safetensors when the repo has them (not the same weights again as .bin), no
    ONNX/TF/Flax copies, no GGUF unless one is asked for (then only it and the small files)."""
    def matches(path: str, patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatch(path, p) for p in patterns)

    if gguf_file:
        chosen = [f for f in files if f.path == gguf_file or (matches(f.path, SMALL) and "/" not in f.path)]
        if not any(f.path == gguf_file for f in files):
            raise ModelError(f"{gguf_file} is not in the repository; its GGUF files are: "
                             f"{', '.join(f.path for f in files if f.path.endswith('.gguf')) or 'none'}")
        return chosen
    kept = [f for f in files if not matches(f.path, SKIP) and not f.path.endswith(".gguf")]
    if any(f.path.endswith(".safetensors") for f in kept):
        kept = [f for f in kept if not f.path.endswith((".bin", ".pth", ".pt"))]
    if not any(f.path.endswith((".safetensors", ".bin", ".pth", ".pt")) for f in kept):
        ggufs = [f.path for f in files if f.path.endswith(".gguf")]
        if ggufs:
            raise ModelError("this repository holds GGUF files only: pick one of them (gguf file field): "
                             + ", ".join(ggufs[:8]))
    return kept


@dataclass
class DownloadState:
    """What a download's status file holds (never the token)."""

    job_id: str
    repo: str
    source: str
    endpoint: str = ""
    gguf_file: str = ""
    hub: str = ""
    state: str = "queued"  # queued | running | done | failed | cancelled | interrupted
    bytes: int = 0
    total: int = 0
    resumed_bytes: int = 0
    files_done: int = 0
    files_total: int = 0
    current: str = ""
    speed_bps: float = 0.0
    eta_s: float | None = None
    folder: str = ""
    checks: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None

    @property
    def fraction(self) -> float:
        return self.bytes / self.total if self.total else 0.0

    def line(self) -> str:
        if self.state == "queued":
            return f"{self.repo}: queued"
        done = f"{self.bytes / 2**20:,.1f} / {self.total / 2**20:,.1f} MiB"
        if self.state == "running":
            eta = f", ETA {int(self.eta_s // 60)}:{int(self.eta_s % 60):02d}" if self.eta_s is not None else ""
            return (f"{self.repo} from {HUB_NAMES.get(self.hub, self.hub)}: {done} ({self.fraction:.0%}), "
                    f"{self.speed_bps / 2**20:.1f} MiB/s{eta} · file {self.files_done + 1}/{self.files_total} "
                    f"{self.current}")
        if self.state == "done":
            return f"{self.repo}: downloaded and checked → {self.folder}"
        return f"{self.repo}: {self.state}" + (f" — {self.error}" if self.error else "")


class _Meter:
    """Bytes so far, speed over the last few seconds, and when to save the status file."""

    def __init__(self, state: DownloadState, save: Any, ctx: JobContext):
        self.state, self.save, self.ctx = state, save, ctx
        self.window: list[tuple[float, int]] = []
        self.saved_at = 0.0
        self.fresh = 0

    def add(self, n: int, resumed: bool = False) -> None:
        s = self.state
        s.bytes += n
        if resumed:
            s.resumed_bytes += n
        else:
            now = time.time()
            self.fresh += n
            self.window = [(t, b) for t, b in self.window if now - t < 5.0] + [(now, self.fresh)]
            if len(self.window) > 1 and self.window[-1][0] > self.window[0][0]:
                s.speed_bps = (self.window[-1][1] - self.window[0][1]) / (self.window[-1][0] - self.window[0][0])
                s.eta_s = max(s.total - s.bytes, 0) / s.speed_bps if s.speed_bps > 0 else None
        self.ctx.progress(s.fraction, s.line())  # raises Cancelled when asked to stop
        if time.time() - self.saved_at > SAVE_EVERY_S:
            self.saved_at = time.time()
            self.save(s)


class DownloadManager:
    def __init__(self, jobs: JobRegistry | None = None, state_dir: Path | None = None):
        self.jobs = jobs or JobRegistry()
        self.state_dir = state_dir or cache_root() / "downloads"
        self._slot = threading.Lock()  # one download at a time: several at once only share the bandwidth
        self._states: dict[str, DownloadState] = {}
        self._load_interrupted()

    # ---- public ----------------------------------------------------------------------------------

    def start(self, repo: str, source: str = "auto", endpoint: str = "", token: str = "", gguf_file: str = "") -> str:
        repo = check_repo_id(repo)
        tries = accesses(source, endpoint, token)  # validates source
        active = [s for s in self._states.values() if s.repo == repo and s.state in ("queued", "running")]
        if active:
            return active[0].job_id  # the same model twice: show the download already going
        holder: dict[str, DownloadState] = {}
        ready = threading.Event()

        def work(ctx: JobContext) -> dict[str, Any]:
            ready.wait()
            return self._run(holder["state"], tries, ctx)

        job_id = self.jobs.start("download", work, meta={"repo": repo, "source": source})
        state = DownloadState(job_id, repo, source, endpoint.strip(), gguf_file.strip())
        holder["state"] = state
        self._states[job_id] = state
        self._save(state)
        ready.set()
        return job_id

    def status(self, job_id: str = "") -> dict[str, Any]:
        """One download's state (or, without an id, every download this app knows, newest first)."""
        if not job_id:
            items = sorted(self._states.values(), key=lambda s: -s.started_at)
            return {"downloads": [self._public(s) for s in items]}
        state = self._states.get(job_id)
        if state is None:
            raise ModelError(f"no download '{job_id}': download_status without an id lists them")
        return self._public(state)

    def cancel(self, job_id: str, discard: bool = False) -> str:
        """Stop a download within a second; its partial files stay for a later resume unless `discard`."""
        state = self._states.get(job_id)
        if state is None:
            raise ModelError(f"no download '{job_id}'")
        if state.state in ("queued", "running"):
            self.jobs.cancel(job_id)
            self.jobs.get(job_id).finished.wait(10)
        if discard and state.state in ("cancelled", "failed", "interrupted"):
            shutil.rmtree(hf_repo_dir(state.repo) / "blobs" / ".partial", ignore_errors=True)
            return f"{state.repo}: cancelled, partial files removed"
        return f"{state.repo}: {state.state}"

    def resume(self, job_id: str, token: str = "") -> str:
        state = self._states.get(job_id)
        if state is None:
            raise ModelError(f"no download '{job_id}'")
        return self.start(state.repo, state.source, state.endpoint, token, state.gguf_file)

    # ---- the job ---------------------------------------------------------------------------------

    def _run(self, state: DownloadState, tries: list[HubAccess], ctx: JobContext) -> dict[str, Any]:
        holding = False
        try:
            ctx.progress(0.0, f"{state.repo}: queued behind another download")
            while not self._slot.acquire(timeout=0.3):
                ctx.check()
            holding = True
            state.state = "running"
            errors: list[str] = []
            for access in tries:
                state.hub = access.hub
                try:
                    self._download(state, access, ctx)
                    break
                except (HubUnreachable, ModelError) as exc:
                    if state.bytes > state.resumed_bytes or len(tries) == 1:
                        raise  # a transfer had started: this hub's error is the one to show
                    errors.append(str(exc))
                    if access is tries[-1]:
                        raise ModelError(" · ".join(errors)) from exc
            state.state, state.ended_at = "done", time.time()
            self._save(state)
            return self._public(state)
        except BaseException as exc:
            state.state = "cancelled" if isinstance(exc, Cancelled) else "failed"
            state.error = None if isinstance(exc, Cancelled) else str(exc)
            state.ended_at, state.speed_bps, state.eta_s = time.time(), 0.0, None
            self._save(state)
            raise
        finally:
            if holding:
                self._slot.release()

    def _download(self, state: DownloadState, access: HubAccess, ctx: JobContext) -> None:
        info = repo_info(state.repo, access)
        files = select_files(info["files"], state.gguf_file)
        state.total = sum(f.size for f in files)
        state.files_total = len(files)
        state.bytes = state.resumed_bytes = state.files_done = 0
        meter = _Meter(state, self._save, ctx)
        if access.hub == "hf":
            folder = self._hf_snapshot(state, access, info["revision"], files, meter)
        else:
            folder = self._modelscope(state, access, files, meter)
        state.folder = str(folder)

    def _hf_snapshot(self, state: DownloadState, access: HubAccess, revision: str, files: list[RemoteFile],
                     meter: _Meter) -> Path:
        repo_dir = hf_repo_dir(state.repo)
        blobs, parts = repo_dir / "blobs", repo_dir / "blobs" / ".partial"
        _check_space(repo_dir, sum(f.size for f in files if not (blobs / f.etag).is_file()))
        for f in files:
            state.current = f.path
            blob = blobs / (f.etag or f.path.replace("/", "--"))
            if blob.is_file() and (not f.size or blob.stat().st_size == f.size):
                meter.add(f.size, resumed=True)
            else:
                resumed = [True]  # fetch reports a resumed part's length first

                def on_bytes(n: int, resumed: list[bool] = resumed) -> None:
                    meter.add(n, resumed=resumed[0] and n > 0)
                    resumed[0] = False

                part = fetch(file_url(access, state.repo, f.path, revision), auth_headers(access),
                             parts / (blob.name + ".part"), f.size, f.sha256, on_bytes, f.path)
                place(part, blob)
            state.files_done += 1
        # the snapshot folder appears only when every file is there and the model loads
        snapshots = repo_dir / "snapshots"
        staging = snapshots / f".{revision}.checking"
        shutil.rmtree(staging, ignore_errors=True)
        for f in files:
            _link(blobs / (f.etag or f.path.replace("/", "--")), staging / f.path)
        meter.ctx.progress(1.0, f"{state.repo}: checking that the model loads…")
        try:
            state.checks = check_loadable(staging)
        except ModelError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelError(f"{state.repo} downloaded but does not load: {exc}. Nothing was kept as a usable "
                             "model; start the download again (or pick another revision)") from exc
        final = snapshots / revision
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / "main").write_text(revision, encoding="utf-8")
        shutil.rmtree(parts, ignore_errors=True)
        return final

    def _modelscope(self, state: DownloadState, access: HubAccess, files: list[RemoteFile], meter: _Meter) -> Path:
        from modelscope_hub import HubApi, ProgressCallback

        class Progress(ProgressCallback):
            def __init__(self, filename: str, file_size: int):
                super().__init__(filename, file_size)
                state.current = filename

            def update(self, size: int) -> None:
                meter.add(size)

            def end(self) -> None:
                state.files_done += 1

        api = HubApi(endpoint=access.url, token=access.token or None)
        try:
            # the cache folder read now: the library fixes its own on first use in the process
            folder = api.download_repo(state.repo, "model", allow_patterns=[f.path for f in files],
                                       cache_dir=modelscope_root(), progress_callbacks=[Progress])
        except ModelError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "Cancelled":
                raise

            raise hub_error(access, state.repo, exc) from exc
        meter.ctx.progress(1.0, f"{state.repo}: checking that the model loads…")
        state.checks = check_loadable(Path(folder))
        return Path(folder)

    # ---- status files ----------------------------------------------------------------------------

    def _public(self, state: DownloadState) -> dict[str, Any]:
        out = {k: v for k, v in asdict(state).items()}
        out["progress"] = round(state.fraction, 4)
        out["message"] = state.line()
        return out

    def _save(self, state: DownloadState) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            target = self.state_dir / f"{state.job_id}.json"
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
            os.replace(tmp, target)
        except OSError:
            pass  # the status file is a convenience for re-attaching; the download itself goes on

    def _load_interrupted(self) -> None:
        for path in sorted(self.state_dir.glob("*.json")) if self.state_dir.is_dir() else []:
            try:
                state = DownloadState(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if state.state not in FINISHED:
                state.state, state.speed_bps, state.eta_s = "interrupted", 0.0, None
                state.error = "the app stopped during this download: resume continues from the partial files"
            self._states[state.job_id] = state


def _check_space(folder: Path, need: int) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if need > free:
        raise ModelError(f"not enough disk space: the download needs {need / 2**30:.2f} GiB more, {free / 2**30:.2f} "
                         f"GiB are free at {probe}. Free some space (Model Hub → models on disk) or set HF_HOME to "
                         "a bigger disk")


def _link(blob: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.symlink_to(os.path.relpath(blob, target.parent))
    except OSError:  # no symlinks (some Windows setups): a copy, as huggingface_hub does
        shutil.copy2(blob, target)
