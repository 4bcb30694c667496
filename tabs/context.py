"""What every tab shares: the engine's door (every action that takes a path goes through it), the
hardware monitor, the environment report and the interface language."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.access.door import Door
from engine.env.monitor import HardwareMonitor
from engine.env.report import Environment


@dataclass
class AppContext:
    door: Door
    monitor: HardwareMonitor
    environment: Environment
    lang: str = "en"
    # (fn, inputs, outputs) to run when a page loads, so a refresh re-attaches to the live run
    on_load: list[tuple[Any, list[Any], list[Any]]] = field(default_factory=list)
    # tab id -> (fn, inputs, outputs) to run when that tab is opened
    on_tab_open: dict[str, tuple[Any, list[Any], list[Any]]] = field(default_factory=dict)

    @classmethod
    def create(cls, outputs: str | Path, lang: str = "en", confine: bool = False,
               allow_dirs: list[str] | None = None, allow_code: bool = False) -> AppContext:
        door = Door.open(outputs, confine, allow_dirs, allow_code)
        return cls(door, HardwareMonitor().start(), Environment(door.manager.outputs), lang)
