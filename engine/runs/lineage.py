"""Where a run came from and what came out of it, kept in <run>/lineage.json: the base model (as named,
where it was found, its hub revision and the sha256 of each weight file), every dataset (its files' sha256,
the rows used, the format and mapping), the parent adapter, the hash of the run's settings, and each export
(format, quantization, path, the sha256 of its files). Evaluation results stay in their own files
(comparison.json, reward_check.json) and are read with it."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from engine.config.datasets import dataset_parts
from engine.config.field_info import LOCATION_FIELDS
from engine.config.train_config import TrainConfig
from engine.data.sources import plan_source
from engine.hub.fetch import file_sha256 as stream_sha256
from engine.runs.rundir import RunDir, read_json, write_json_atomic

LINEAGE_FILE = "lineage.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
SHA256 = re.compile(r"[0-9a-f]{64}")
_hashes: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """A file's sha256, once per version of the file in this process. Hugging Face's cache names every
    large file's blob by its sha256, so those cost nothing."""
    real = path.resolve()
    if real.parent.name == "blobs" and SHA256.fullmatch(real.name):
        return real.name
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _hashes:
            return _hashes[key]
    digest = stream_sha256(real)
    with _lock:
        _hashes[key] = digest
    return digest


def _files(paths: list[Path], root: Path | None = None) -> list[dict[str, Any]]:
    return [{"name": str(p.relative_to(root)) if root else str(p), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(paths)]


def settings_sha256(config: TrainConfig) -> str:
    """The same settings give the same hash, whatever the run is called or where it is saved."""
    settings = {k: v for k, v in config.to_dict().items() if k not in LOCATION_FIELDS}
    return hashlib.sha256(yaml.safe_dump(settings, sort_keys=True).encode()).hexdigest()


def base_model(config: TrainConfig, path: str, source: str) -> dict[str, Any]:
    folder = Path(path)
    revision = folder.name if folder.parent.name == "snapshots" else None  # Hugging Face cache: the commit
    weights = [p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file()] if folder.is_dir() else []
    index = list(folder.glob("*.index.json")) if folder.is_dir() else []
    # "folder", not "path": API clients take a dict with a "path" for a file to fetch
    return {"model": config.model_name_or_path, "folder": path, "source": source, "revision": revision,
            "weights": _files(weights + index, folder)}


def datasets(config: TrainConfig, report: Any) -> list[dict[str, Any]]:
    mix = {part["dataset"]: part for part in getattr(report, "mix", []) or []}
    out = []
    for spec in dataset_parts(config.dataset):
        plan = plan_source(spec)
        entry: dict[str, Any] = {"spec": spec, "format": config.dataset_format if config.dataset_format != "auto"
                                 else getattr(report, "format", "auto"), "mapping": dict(plan.meta.columns)}
        if plan.hub is not None:
            entry["hub"] = plan.hub
        else:
            entry["files"] = [{**_files([path])[0], "split": split} for path, split in plan.files]
        part = mix.get(spec)
        entry["rows_used"] = part["used"] if part else getattr(report, "train_examples", None)
        out.append(entry)
    return out


def record_sources(run: RunDir, config: TrainConfig, model_path: str, model_source: str, report: Any,
                   parent: dict[str, Any] | None) -> dict[str, Any]:
    """Written as training starts, before any weight changes: what this run is made of."""
    lineage = {**read_json(run.path / LINEAGE_FILE, {}), "run_id": run.run_id,
               "settings_sha256": settings_sha256(config), "method": config.method,
               "finetuning_type": config.finetuning_type, "base": base_model(config, model_path, model_source),
               "datasets": datasets(config, report), "parent": parent}
    lineage.setdefault("exports", [])
    write_json_atomic(run.path / LINEAGE_FILE, lineage)
    return lineage


def record_export(run: RunDir, target: Path, result: dict[str, Any], request: dict[str, Any]) -> None:
    """An export joins its run's lineage with the hashes of what it wrote."""
    lineage = read_json(run.path / LINEAGE_FILE, {}) or {"run_id": run.run_id}
    files = [p for p in target.rglob("*") if p.is_file()] if target.is_dir() else [target]
    entry = {"format": request.get("format"), "quant": request.get("quant") if request.get("format") == "gguf"
             else None, "checkpoint": request.get("checkpoint") or "final", "destination": str(target),
             "files": _files(files, target if target.is_dir() else None), "pushed": result.get("pushed"),
             "check": result.get("check"), "time": time.time()}
    exports = [e for e in lineage.get("exports", []) if e.get("destination") != str(target)]  # overwritten: replaced
    lineage["exports"] = [*exports, entry]
    write_json_atomic(run.path / LINEAGE_FILE, lineage)


def read_lineage(run: RunDir) -> dict[str, Any]:
    return read_json(run.path / LINEAGE_FILE, {}) or {}
