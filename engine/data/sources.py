"""Reading raw rows from files, LLaMA-Factory dataset folders and hub datasets.

Every row keeps where it came from (file and 1-based row/line number) so later stages can name
the exact bad row.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DataError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".txt")
INFO_FILE = "dataset_info.json"


@dataclass
class Row:
    data: dict[str, Any]
    file: str
    number: int  # 1-based: the record of a JSON array, the spreadsheet row of a csv, the line of jsonl/txt
    unit: str = "row"

    @property
    def where(self) -> str:
        return f"{self.file} {self.unit} {self.number}"


@dataclass
class SourceMeta:
    """LLaMA-Factory `dataset_info.json` entry fields that shape how rows are read."""

    formatting: str | None = None  # "alpaca" | "sharegpt"
    ranking: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Source:
    rows: list[Row]
    meta: SourceMeta
    bad: list[str]  # rows that could not even be parsed, with file and line
    name: str


def load_source(spec: str, max_samples: int = 0) -> Source:
    spec = spec.strip()
    if not spec:
        raise DataError("dataset: empty. Choose a data file, a folder with dataset_info.json, or a hub dataset id.")
    path = project_path(spec)
    if path.is_dir():
        return _from_info_folder(path, None, max_samples)
    if path.is_file():
        return _from_file(path, SourceMeta(), max_samples)
    folder, sep, name = spec.rpartition(":")
    if sep and folder and project_path(folder).is_dir():
        return _from_info_folder(project_path(folder), name, max_samples)
    if path.suffix.lower() in DATA_SUFFIXES or spec.startswith((".", "/", "~")):
        raise DataError(f"dataset: file not found: {spec}")
    from engine.data.hub_data import load_hub_rows

    return load_hub_rows(spec, max_samples)


def project_path(spec: str) -> Path:
    """A path as typed; a relative one missing from the working folder is tried in TuneDesk's folder,
    so presets that name samples/… work wherever TuneDesk is started from."""
    path = Path(spec).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        return PROJECT_ROOT / path
    return path


def _from_info_folder(folder: Path, name: str | None, max_samples: int) -> Source:
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        files = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in DATA_SUFFIXES)
        hint = f" It holds {', '.join(files[:5])}: pick one of those files." if files else ""
        raise DataError(f"dataset: folder {folder} has no {INFO_FILE}.{hint}")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{info_path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if name is None:
        if len(info) != 1:
            raise DataError(f"dataset: {info_path} describes {len(info)} datasets ({', '.join(sorted(info))}); "
                            f"pick one as {folder}:NAME")
        name = next(iter(info))
    if name not in info:
        raise DataError(f"dataset: no entry '{name}' in {info_path}; it has: {', '.join(sorted(info))}")
    entry = info[name]
    file_name = entry.get("file_name")
    if not file_name:
        hub = entry.get("hf_hub_url") or entry.get("ms_hub_url")
        if hub:
            from engine.data.hub_data import load_hub_rows

            only_ms = "ms_hub_url" in entry and "hf_hub_url" not in entry
            return load_hub_rows(hub, max_samples, prefer_modelscope=only_ms)
        raise DataError(f"{info_path}: entry '{name}' has no file_name")
    meta = SourceMeta(
        formatting=entry.get("formatting", "alpaca"),
        ranking=bool(entry.get("ranking", False)),
        columns=dict(entry.get("columns", {})),
        tags=dict(entry.get("tags", {})),
    )
    target = folder / file_name
    if not target.exists():
        raise DataError(f"{info_path}: entry '{name}' points to {file_name}, which does not exist")
    source = _from_file(target, meta, max_samples) if target.is_file() else _from_dir_files(target, meta, max_samples)
    source.name = name
    return source


def _from_dir_files(folder: Path, meta: SourceMeta, max_samples: int) -> Source:
    merged = Source([], meta, [], folder.name)
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in DATA_SUFFIXES:
            part = _from_file(p, meta, 0)
            merged.rows += part.rows
            merged.bad += part.bad
    if max_samples:
        merged.rows = merged.rows[:max_samples]
    return merged


def _from_file(path: Path, meta: SourceMeta, max_samples: int) -> Source:
    suffix = path.suffix.lower()
    readers = {".json": _read_json, ".jsonl": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet,
               ".txt": _read_txt}
    if suffix not in readers:
        raise DataError(f"dataset: {path.name} is a {suffix or 'extension-less'} file; "
                        f"TuneDesk reads {', '.join(DATA_SUFFIXES)}")
    rows, bad = readers[suffix](path)
    if max_samples:
        rows = rows[:max_samples]
    return Source(rows, meta, bad, path.stem)


def _read_json(path: Path) -> tuple[list[Row], list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip()[:1]
        if first == "{" and "\n{" in text:  # a .json file that is really JSON lines
            return _read_jsonl(path)
        raise DataError(f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if isinstance(data, dict):
        for key in ("data", "train", "rows"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path.name}: expected a JSON list of records, got {type(data).__name__}")
    rows, bad = [], []
    for i, item in enumerate(data, 1):
        if isinstance(item, dict):
            rows.append(Row(item, path.name, i))
        else:
            bad.append(f"{path.name} row {i}: expected an object with fields, got {type(item).__name__}")
    return rows, bad


def _read_jsonl(path: Path) -> tuple[list[Row], list[str]]:
    rows, bad = [], []
    with path.open(encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                bad.append(f"{path.name} line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if isinstance(item, dict):
                rows.append(Row(item, path.name, line_no, "line"))
            else:
                bad.append(f"{path.name} line {line_no}: expected an object, got {type(item).__name__}")
    return rows, bad


def _read_csv(path: Path) -> tuple[list[Row], list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        # line numbers count the header as line 1, matching what a spreadsheet shows
        rows = [Row({k: v for k, v in rec.items() if k is not None}, path.name, reader.line_num) for rec in reader]
    return rows, []


def _read_parquet(path: Path) -> tuple[list[Row], list[str]]:
    import pandas as pd

    frame = pd.read_parquet(path)
    records = frame.to_dict(orient="records")
    return [Row(_plain(rec), path.name, i) for i, rec in enumerate(records, 1)], []


def _plain(value: Any) -> Any:
    """Parquet gives numpy arrays for list columns; the formats expect plain lists."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _read_txt(path: Path) -> tuple[list[Row], list[str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return [Row({"text": line.rstrip("\n")}, path.name, n, "line") for n, line in enumerate(fh, 1)
                if line.strip()], []
