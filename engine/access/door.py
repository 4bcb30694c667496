"""The one way in: every action a front end takes (the Gradio UI, its API, the CLI, scripts) that reads
or writes a path it is given, or could run code, goes through `Door`, which checks it first.

A local app confines nothing; a shared or password-protected one reads and writes only inside the
folders it was started with (`--allow-dir`, the outputs folder, TuneDesk's samples) and runs no code
it did not ship with unless started with `--allow-code`. Actions that take no path (stop a run, read a
job's status) are reached through the parts the door holds: `door.manager`, `door.exporter.jobs`, ….
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.access.code import POLICY
from engine.access.code import check_config as check_code
from engine.access.paths import PathGuard
from engine.config.optimizers import check_optimizer
from engine.config.trackers import check_trackers
from engine.config.train_config import TrainConfig
from engine.data.explorer import DatasetExplorer
from engine.errors import ConfigError, ModelError, RunError
from engine.evaluation.after_training import CompareAfterTraining
from engine.evaluation.batch import BatchComparer, CompareRequest
from engine.export.check import recheck
from engine.export.exporter import ExportManager, ExportRequest
from engine.hub.disk import delete_model
from engine.hub.download import DownloadManager
from engine.hub.info import fetch_config
from engine.hub.registry import register
from engine.hub.structure import model_structure
from engine.inference.compare import CompareChat
from engine.inference.decode import Sampling
from engine.inference.pool import POOL
from engine.locations import SAMPLES_DIR
from engine.models.levers import resolve_levers
from engine.planning.fit_plan import FitPlan, FitPlanner, FitRequest
from engine.runs.queue import RunManager
from engine.runs.rundir import read_json
from engine.serve.http import ServeApi
from engine.serve.keys import ApiKeys, RateLimit
from engine.serve.service import Service
from engine.sizing.catalog import find
from engine.sizing.fit import estimate_for, model_shape
from engine.sizing.memory import Setting


@dataclass
class Door:
    manager: RunManager
    guard: PathGuard
    explorer: DatasetExplorer
    downloads: DownloadManager
    chat: CompareChat
    comparer: BatchComparer
    exporter: ExportManager
    planner: FitPlanner

    @classmethod
    def open(cls, outputs: str | Path, confine: bool = False, allow_dirs: list[str] | None = None,
             allow_code: bool = False) -> Door:
        """The engine for one process. `confine`: the app is shared or password-protected."""
        POLICY.exposed, POLICY.allow_code = confine, allow_code
        manager = RunManager(outputs)
        guard = PathGuard([manager.outputs, SAMPLES_DIR, *(allow_dirs or [])] if confine else [])
        manager.before_run.append(POOL.release)  # training gets the memory Compare Chat's models held
        comparer = BatchComparer(manager)
        manager.after_completed.append(CompareAfterTraining(manager))
        explorer = DatasetExplorer(manager.outputs, guard)
        return cls(manager, guard, explorer, DownloadManager(), CompareChat(manager), comparer, ExportManager(manager),
                   FitPlanner(manager, explorer, before_probe=[POOL.release]))

    # --- runs ---------------------------------------------------------------------------------
    def start(self, config: TrainConfig) -> str:
        check_code(config)
        check_trackers(config.report_to)
        check_optimizer(config.optim)
        resolve_levers(config)
        self.guard.check_config(config)
        if not config.dataset:
            raise ConfigError("dataset: empty. Choose a data file or one of the samples first.")
        return self.manager.submit(config)

    def resume(self, run_id: str, checkpoint: str = "") -> str:
        config = self.manager.run(run_id).config()
        check_code(config)  # the policy may have changed since it first ran
        check_trackers(config.report_to)  # and the machine may have lost a tracker
        check_optimizer(config.optim)
        resolve_levers(config)
        return self.manager.resume(run_id, checkpoint or None)

    def retry_planned(self, run_id: str) -> str:
        """A run that ran out of memory, started again as a new run with the fit planner's next setting."""
        run = self.manager.run(run_id)
        fix = run.status().get("retry_with")
        if not fix:
            raise RunError(f"run {run_id} did not run out of memory, so the planner has no setting for it; "
                           "use Fit to this machine on the form instead")
        return self.start(run.config().replace(**fix))

    def run_detail(self, run_id: str, last: int = 20) -> dict[str, Any]:
        run = self.manager.run(run_id)
        report = read_json(run.path / "comparison.json", None)
        return {**self.manager.summary(run), "status": run.status(),
                "metrics": self.manager.metrics(run_id)[-last:],
                "checkpoints": [p.name for p in run.checkpoints()],
                "comparison": report.get("summary") if isinstance(report, dict) else None}

    # --- chat, comparison and export ----------------------------------------------------------
    def check_side(self, spec: str) -> None:
        """A chat side `base:<model>` may name a folder; runs live in the outputs folder already."""
        text = (spec or "").strip()
        if text.startswith("base:"):
            self.guard.check_path(text[5:], "model")

    def chat_stream(self, left: str, right: str, message: str, history: list[list[dict[str, str]]] | None = None,
                    system: str = "", sampling: Sampling | None = None, stop: threading.Event | None = None,
                    on_loaded: Callable[[dict[str, Any]], None] | None = None) -> Iterator[tuple[str, str]]:
        """Both sides' answers as they grow (see CompareChat.stream)."""
        self.check_side(left)
        self.check_side(right)
        return self.chat.stream(left, right, message, history, system, sampling, stop, on_loaded)

    def chat_once(self, left: str, right: str, message: str, system: str = "", sampling: Sampling | None = None
                  ) -> dict[str, Any]:
        self.check_side(left)
        self.check_side(right)
        return self.chat.chat(left, right, message, system, sampling)

    def _check_compare(self, request: CompareRequest, uploaded: bool) -> None:
        self.check_side(request.left)
        self.check_side(request.right)
        if request.questions and not uploaded:
            self.guard.check_path(request.questions, "questions file")

    def compare(self, request: CompareRequest, uploaded: bool = False) -> str:
        """A batch comparison as a background job; returns its job id. `uploaded`: the questions file is
        one the browser just uploaded into the app's own upload folder."""
        self._check_compare(request, uploaded)
        return self.comparer.start(request)

    def compare_now(self, request: CompareRequest) -> dict[str, Any]:
        """The same comparison in this thread (the CLI), returning the report."""
        self._check_compare(request, False)
        return self.comparer.run(request)

    def _check_export(self, request: ExportRequest) -> None:
        if request.destination:
            self.guard.check_path(request.destination, "export destination")

    def export(self, request: ExportRequest, token: str = "") -> str:
        """An export as a background job; returns its job id."""
        self._check_export(request)
        return self.exporter.start(request, token)

    def export_now(self, request: ExportRequest, token: str = "", progress: Any = None) -> dict[str, Any]:
        """The same export in this thread (the CLI); `progress` has JobContext's progress and check."""
        self._check_export(request)
        return self.exporter.run(request, token, progress)

    def check_export(self, folder: str) -> dict[str, Any]:
        """An export's round-trip check run again from what it saved (export_check.json in its folder)."""
        self.guard.check_path(folder, "export folder")
        return recheck(Path(folder).expanduser())

    def serving(self, keys: ApiKeys, limit: RateLimit) -> ServeApi:
        """The OpenAI-compatible endpoint. It takes no paths: it serves only the sides Compare Chat lists
        (the bundled model, runs' bases, final models and checkpoints), to callers with a key where keys
        are required, from the same model pool (a run about to train empties it first)."""
        return ServeApi(Service(self.manager, POOL), keys, limit)

    # --- models on disk -----------------------------------------------------------------------
    def register_model(self, path: str) -> dict[str, Any]:
        self.guard.check_path(path, "model")
        return register(path.strip())

    def delete_model(self, folder: str, delete_files: bool = False) -> str:
        if self.guard.active:
            raise ModelError("deleting models is only possible in a local app, not through a shared or "
                             "password-protected one")
        return delete_model(folder, delete_files)

    def model_structure(self, model: str, fetch: bool = False) -> dict[str, Any]:
        self.guard.check_path(model or "", "model")
        return model_structure((model or "").strip(), fetch=fetch)

    def estimate(self, model: str, setting: Setting, fetch: bool = False) -> dict[str, Any]:
        """Peak memory of training `model` with `setting` on this machine. `fetch`: a hub model known
        nowhere here has its config.json fetched first (a few KB)."""
        self.guard.check_path(model or "", "model")
        model = (model or "").strip()
        try:
            return estimate_for(model, setting)
        except ModelError:
            if not fetch or model.count("/") != 1 or find(model) is not None:
                raise
            fetch_config(model)
            return estimate_for(model, setting)

    # --- fit to this machine ------------------------------------------------------------------
    def _check_plan(self, request: FitRequest) -> None:
        config = request.config
        check_code(config)  # measuring a step loads the model, with its own code where trusted
        self.guard.check_config(config)
        model = config.model_name_or_path.strip()
        try:
            model_shape(model)
        except ModelError:
            if model.count("/") != 1 or find(model) is not None:
                raise
            fetch_config(model)  # a hub model known nowhere here: its config.json (a few KB) gives its shape

    def fit_plan(self, request: FitRequest) -> FitPlan:
        """The settings that fit `request.config`'s model and data on this machine, for the request's goal."""
        self._check_plan(request)
        return self.planner.plan(request)

    def start_fit_plan(self, request: FitRequest) -> str:
        """The same as a background job (token lengths and a measured step take seconds to a minute)."""
        self._check_plan(request)
        return self.planner.start(request)
