"""The run directory: everything a run is, on disk.

outputs/runs/<run_id>/
    config.yaml        the full resolved TrainConfig
    status.json        state, step, progress, times, error (written atomically)
    metrics.jsonl      one JSON event per log step
    train.log          human-readable log with full tracebacks
    data_report.json   what the dataset stage found (bad rows, truncation)
    checkpoint-N/      Trainer checkpoints (resume points)
    final/             the PEFT adapter or full model, with tokenizer and chat template
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.config.yaml_io import load_yaml

STATES = ("pending", "running", "completed", "failed", "stopped")
ACTIVE = ("pending", "running")


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # what new_run_id makes (and older hand-named runs)


def new_run_id(config: TrainConfig) -> str:
    label = config.run_name or f"{Path(config.model_name_or_path).name}-{config.method}-{config.finetuning_type}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(2)}"


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return default


_CONFIGS: dict[Path, tuple[tuple, TrainConfig]] = {}


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def final_path(self) -> Path:
        return self.path / "final"

    @classmethod
    def create(cls, root: Path, config: TrainConfig) -> RunDir:
        root.mkdir(parents=True, exist_ok=True)
        run = cls(root / new_run_id(config))
        run.path.mkdir()
        run.config_path.write_text(config.to_yaml(), encoding="utf-8")
        run.write_status(state="pending", step=0, max_steps=0, progress=0.0, created_at=time.time(),
                         started_at=None, ended_at=None, error=None, suggestion=None, final_loss=None,
                         alerts=[], pid=os.getpid())
        return run

    def config(self) -> TrainConfig:
        """Parsed once per version of config.yaml: the runs list and every poll of a run read it, and
        parsing YAML while a run trains takes the interpreter from the training thread."""
        stat = self.config_path.stat() if self.config_path.is_file() else None
        key = (str(self.config_path), stat.st_mtime_ns, stat.st_size) if stat else None
        cached = _CONFIGS.get(self.config_path)
        if key is None or cached is None or cached[0] != key:
            cached = (key, load_yaml(self.config_path))
            if key is not None:
                _CONFIGS[self.config_path] = cached
        return copy.copy(cached[1])

    def status(self) -> dict[str, Any]:
        return read_json(self.status_path, {}) or {}

    def write_status(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            status = self.status()
            status.update(changes)
            write_json_atomic(self.status_path, status)
            return status

    def append_metric(self, event: dict[str, Any]) -> None:
        with self._lock, self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        out = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return out

    def drop_metrics_after(self, step: int) -> None:
        """On resume from checkpoint-N, later events from the abandoned attempt would be repeated."""
        kept = [m for m in self.metrics() if m.get("step", 0) <= step]
        with self._lock:
            tmp = self.metrics_path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(m) + "\n" for m in kept), encoding="utf-8")
            os.replace(tmp, self.metrics_path)

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self._lock, self.log_path.open("a", encoding="utf-8") as fh:
            for line in message.rstrip("\n").splitlines() or [""]:
                fh.write(f"[{stamp}] {line}\n")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints only, oldest first: one whose save was cut short is never offered or loaded."""
        return [p for p in self._checkpoint_dirs() if checkpoint_complete(p)]

    def incomplete_checkpoints(self) -> list[Path]:
        return [p for p in self._checkpoint_dirs() if not checkpoint_complete(p)]

    def _checkpoint_dirs(self) -> list[Path]:
        found = [p for p in self.path.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
        return sorted(found, key=lambda p: int(p.name.split("-")[-1]))

    def latest_checkpoint(self) -> Path | None:
        points = self.checkpoints()
        return points[-1] if points else None


def checkpoint_complete(folder: Path) -> bool:
    """The Trainer writes trainer_state.json last (after the weights, optimizer and RNG state), so a
    checkpoint whose save was interrupted by a crash, a kill or a full disk has none, or a broken one."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    weights = any(folder.glob("*.safetensors")) or any(folder.glob("pytorch_model*.bin"))
    return isinstance(state, dict) and "global_step" in state and weights


def loss_text(loss: float | None) -> str:
    """A loss as people read it: four significant digits (5.472e-06, 0.0123, 1.542), "–" when there is none."""
    return "–" if not isinstance(loss, (int, float)) else f"{loss:.4g}"
