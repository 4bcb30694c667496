"""What every tab shares: the one process-wide engine, hardware monitor and path guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.explorer import DatasetExplorer
from engine.env.report import Environment
from engine.evaluation.batch import BatchComparer
from engine.export.exporter import ExportManager
from engine.inference.compare import CompareChat
from engine.inference.pool import POOL
from engine.modelhub.download import DownloadManager
from engine.monitor import HardwareMonitor
from engine.paths import PathGuard
from engine.presets import PRESETS_DIR
from engine.runs import RunManager
from engine.service import Service
from engine.trust import POLICY

SAMPLES_DIR = PRESETS_DIR.parent / "samples"


@dataclass
class AppContext:
    manager: RunManager
    service: Service
    monitor: HardwareMonitor
    explorer: DatasetExplorer
    environment: Environment
    downloads: DownloadManager
    compare: CompareChat
    comparer: BatchComparer
    exporter: ExportManager
    lang: str = "en"
    # (fn, inputs, outputs) to run when a page loads, so a refresh re-attaches to the live run
    on_load: list[tuple[Any, list[Any], list[Any]]] = field(default_factory=list)
    # tab id -> (fn, inputs, outputs) to run when that tab is opened
    on_tab_open: dict[str, tuple[Any, list[Any], list[Any]]] = field(default_factory=dict)

    @classmethod
    def create(cls, outputs: str | Path, lang: str = "en", confine: bool = False,
               allow_dirs: list[str] | None = None, allow_code: bool = False) -> AppContext:
        POLICY.exposed, POLICY.allow_code = confine, allow_code
        manager = RunManager(outputs)
        allowed = [manager.outputs, SAMPLES_DIR, *(allow_dirs or [])] if confine else []
        guard = PathGuard(allowed)
        manager.before_run.append(POOL.release)  # training gets the memory Compare Chat's models held
        return cls(manager, Service(manager, guard), HardwareMonitor().start(), DatasetExplorer(manager.outputs, guard),
                   Environment(manager.outputs), DownloadManager(), CompareChat(manager), BatchComparer(manager),
                   ExportManager(manager), lang)
