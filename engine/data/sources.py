"""What a dataset spec points at, and its rows: a file, a folder of files, a folder of train / valid /
test files, an entry of LLaMA-Factory's dataset_info.json, or a hub dataset. Files are read by
`engine.data.readers`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.from_hub import load_hub_rows
from engine.data.readers import DATA_SUFFIXES, Row, iter_split_files
from engine.errors import DataError
from engine.locations import project_path

INFO_FILE = "dataset_info.json"
SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "dev": "valid",
               "eval": "valid", "test": "test"}
@dataclass
class SourceMeta:
    """LLaMA-Factory `dataset_info.json` entry fields that shape how rows are read."""

    formatting: str | None = None  # "alpaca" | "sharegpt"
    ranking: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    format: str | None = None  # set where TuneDesk saved the mapping: the format the user confirmed


@dataclass
class Source:
    rows: list[Row]
    meta: SourceMeta
    bad: list[str]  # rows that could not even be parsed, with file and line
    name: str
    files: list[Path] = field(default_factory=list)  # what was read, for content-keyed caches


@dataclass
class SourcePlan:
    """What a dataset spec points at, before any row is read: its files (with their split) and how to
    read them, or a hub dataset."""

    name: str
    meta: SourceMeta
    files: list[tuple[Path, str]] = field(default_factory=list)  # (file, train | valid | test)
    hub: str | None = None
    prefer_modelscope: bool = False


def plan_source(spec: str) -> SourcePlan:
    spec = spec.strip()
    if not spec:
        raise DataError("dataset: empty. Choose a data file, a folder with dataset_info.json, or a hub dataset id.")
    path = project_path(spec)
    if path.is_dir():
        if (path / INFO_FILE).is_file():
            return _info_entry(path, None)
        if files := split_files(path):
            return SourcePlan(path.name, SourceMeta(), [(p, split) for split, p in files.items()])
        data = _data_files(path)
        if not data:
            raise DataError(f"dataset: folder {path} holds no {', '.join(DATA_SUFFIXES)} file and no {INFO_FILE}")
        return SourcePlan(path.name, SourceMeta(), [(p, "train") for p in data])
    if path.is_file():
        return SourcePlan(path.stem, SourceMeta(), [(path, "train")])
    folder, sep, name = spec.rpartition(":")
    if sep and folder and project_path(folder).is_dir():
        return _info_entry(project_path(folder), name)
    if path.suffix.lower() in DATA_SUFFIXES or spec.startswith((".", "/", "~")):
        raise DataError(f"dataset: file not found: {spec}")
    return SourcePlan(spec.split("?")[0].split("/")[-1], SourceMeta(), hub=spec)


def iter_rows(plan: SourcePlan, max_samples: int = 0) -> Iterator[Row | str]:
    """Every row of a planned source, streamed file by file; `max_samples` limits the train rows."""
    if plan.hub is not None:
        yield from load_hub_rows(plan.hub, max_samples, prefer_modelscope=plan.prefer_modelscope)
        return
    yield from iter_split_files(plan.files, max_samples)


def load_source(spec: str, max_samples: int = 0, plan: SourcePlan | None = None) -> Source:
    plan = plan or plan_source(spec)
    rows: list[Row] = []
    bad: list[str] = []
    for item in iter_rows(plan, max_samples):
        (rows if isinstance(item, Row) else bad).append(item)
    return Source(rows, plan.meta, bad, plan.name, [p for p, _ in plan.files])


def _data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)


def read_info(folder: Path) -> dict[str, Any]:
    info_path = folder / INFO_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{info_path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if not isinstance(info, dict):
        raise DataError(f"{info_path}: expected an object of dataset entries")
    return info


def _info_entry(folder: Path, name: str | None) -> SourcePlan:
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise DataError(f"dataset: folder {folder} has no {INFO_FILE}")
    info = read_info(folder)
    if name is None:
        if len(info) != 1:
            raise DataError(f"dataset: {info_path} describes {len(info)} datasets ({', '.join(sorted(info))}); "
                            f"pick one as {folder}:NAME")
        name = next(iter(info))
    if name not in info:
        raise DataError(f"dataset: no entry '{name}' in {info_path}; it has: {', '.join(sorted(info))}")
    entry = info[name]
    meta = SourceMeta(
        formatting=entry.get("formatting", "alpaca"),
        ranking=bool(entry.get("ranking", False)),
        columns=dict(entry.get("columns", {})),
        tags=dict(entry.get("tags", {})),
        format=entry.get("tunedesk_format"),
    )
    file_name = entry.get("file_name")
    if not file_name:
        hub = entry.get("hf_hub_url") or entry.get("ms_hub_url")
        if hub:  # read with the entry's columns and formatting, as a local file would be
            only_ms = "ms_hub_url" in entry and "hf_hub_url" not in entry
            return SourcePlan(name, meta, hub=hub, prefer_modelscope=only_ms)
        raise DataError(f"{info_path}: entry '{name}' has no file_name")
    target = folder / file_name
    if not target.exists():
        raise DataError(f"{info_path}: entry '{name}' points to {file_name}, which does not exist")
    files = [target] if target.is_file() else _data_files(target)
    return SourcePlan(name, meta, [(p, "train") for p in files])


def split_files(folder: Path) -> dict[str, Path]:
    """The train / valid / test files of a folder laid out the way many users bring their data."""
    found: dict[str, Path] = {}
    for p in _data_files(folder):
        if p.stem.lower() in SPLIT_NAMES:
            found.setdefault(SPLIT_NAMES[p.stem.lower()], p)
    return found if "train" in found else {}


