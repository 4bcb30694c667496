"""Reading raw rows from files, LLaMA-Factory dataset folders and hub datasets.

Every row keeps where it came from (file and 1-based row/line number) so later stages can name
the exact bad row.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from engine.errors import DataError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")
INFO_FILE = "dataset_info.json"
SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "dev": "valid",
               "eval": "valid", "test": "test"}
SNIFF_BYTES = 1 << 20
BINARY_MAGIC = ((b"PK\x03\x04", "a zip archive (an .xlsx or .docx file is one)"), (b"PAR1", "a parquet file"),
                (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"%PDF", "a PDF document"),
                (b"\x1f\x8b", "a gzip archive"), (b"SQLite format", "an SQLite database"))


@dataclass
class Row:
    data: dict[str, Any]
    file: str
    number: int  # 1-based: the record of a JSON array, the spreadsheet row of a csv, the line of jsonl/txt
    unit: str = "row"
    split: str = "train"  # train | valid | test, from a folder of train/valid/test files

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
        from engine.data.hub_data import load_hub_rows

        yield from load_hub_rows(plan.hub, max_samples, prefer_modelscope=plan.prefer_modelscope).rows
        return
    taken = 0
    for path, split in plan.files:
        for item in iter_file(path):
            if isinstance(item, Row):
                if split == "train":
                    if max_samples and taken >= max_samples:
                        break
                    taken += 1
                item.split = split
            yield item


def load_source(spec: str, max_samples: int = 0, plan: SourcePlan | None = None) -> Source:
    plan = plan or plan_source(spec)
    rows: list[Row] = []
    bad: list[str] = []
    for item in iter_rows(plan, max_samples):
        (rows if isinstance(item, Row) else bad).append(item)
    return Source(rows, plan.meta, bad, plan.name, [p for p, _ in plan.files])


def project_path(spec: str) -> Path:
    """A path as typed; a relative one missing from the working folder is tried in TuneDesk's folder,
    so presets that name samples/… work wherever TuneDesk is started from."""
    path = Path(spec).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        return PROJECT_ROOT / path
    return path


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
    file_name = entry.get("file_name")
    if not file_name:
        hub = entry.get("hf_hub_url") or entry.get("ms_hub_url")
        if hub:
            only_ms = "ms_hub_url" in entry and "hf_hub_url" not in entry
            return SourcePlan(name, SourceMeta(), hub=hub, prefer_modelscope=only_ms)
        raise DataError(f"{info_path}: entry '{name}' has no file_name")
    meta = SourceMeta(
        formatting=entry.get("formatting", "alpaca"),
        ranking=bool(entry.get("ranking", False)),
        columns=dict(entry.get("columns", {})),
        tags=dict(entry.get("tags", {})),
        format=entry.get("tunedesk_format"),
    )
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


def iter_file(path: Path) -> Iterator[Row | str]:
    """Rows of one file, streamed where the format allows; a string is a row that could not be read."""
    suffix = path.suffix.lower()
    readers = {".json": _read_json, ".jsonl": _read_jsonl, ".csv": _read_csv, ".tsv": _read_csv,
               ".parquet": _read_parquet, ".txt": _read_txt}
    if suffix not in readers:
        raise DataError(f"dataset: {path.name} is a {suffix or 'extension-less'} file; "
                        f"TuneDesk reads {', '.join(DATA_SUFFIXES)}")
    if suffix != ".parquet":
        check_text_file(path)
    return readers[suffix](path)


def sniff_encoding(head: bytes) -> str:
    """utf-8 (with or without BOM), utf-16 with BOM, or gb18030 (GBK), the encodings data arrives in."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # the sample ended inside a character
            return "utf-8"
        if not head[:exc.start].isascii():
            return "utf-8"  # valid UTF-8 text before the bad byte: a mixed file, reported by its line
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        return "utf-8"  # reading will name the first bad byte


def file_encoding(path: Path) -> str:
    with path.open("rb") as fh:
        return sniff_encoding(fh.read(SNIFF_BYTES))


def check_text_file(path: Path) -> None:
    """Refuse empty and binary files at once, with what they look like."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise DataError(f"{path.name} is empty: it holds no rows")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            raise DataError(f"{path.name} is {what}, not a {path.suffix} text file. Save it as "
                            f"{path.suffix} (or JSON lines / CSV) and load that.")
    if b"\0" in head:
        raise DataError(f"{path.name} is a binary file, not {path.suffix} text. Was another file renamed "
                        f"{path.suffix}? Export the data as JSON lines or CSV.")


def _open_text(path: Path, newline: str | None = None) -> TextIO:
    return path.open(encoding=file_encoding(path), newline=newline)


def _decode_error(path: Path, exc: UnicodeDecodeError, encoding: str, line: int | None = None) -> DataError:
    where = f"line {line}" if line else f"byte {exc.start}"
    return DataError(f"{path.name} {where} is not valid {encoding.upper()} (byte 0x{exc.object[exc.start]:02x}): "
                     "the file mixes text encodings. Re-save the whole file as UTF-8 (an editor's "
                     "'Save with encoding' does it) and load it again.")


def _read_json(path: Path) -> Iterator[Row | str]:
    encoding = file_encoding(path)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip()[:1]
        if first == "{" and "\n{" in text:  # a .json file that is really JSON lines
            yield from _read_jsonl(path)
            return
        raise DataError(f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from exc
    if isinstance(data, dict):
        for key in ("data", "train", "rows", "examples", "instances"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path.name}: expected a JSON list of records (objects with fields), got a "
                        f"{type(data).__name__}")
    if data and not any(isinstance(item, dict) for item in data[:100]):
        raise DataError(f"{path.name}: a JSON list of {type(data[0]).__name__}s, not of records. Each item must be "
                        'an object such as {"instruction": ..., "output": ...}')
    for i, item in enumerate(data, 1):
        if isinstance(item, dict):
            yield Row(item, path.name, i)
        else:
            yield f"{path.name} row {i}: expected an object with fields, got {type(item).__name__}"


def _read_jsonl(path: Path) -> Iterator[Row | str]:
    encoding = file_encoding(path)
    if encoding == "utf-16":  # utf-16 cannot be split into lines as bytes
        with _open_text(path) as fh:
            yield from _json_lines(path, enumerate(fh, 1), encoding)
        return
    yield from read_jsonl_range(path, 0, None, 1, encoding)


def read_jsonl_range(path: Path, start: int, end: int | None, first_line: int, encoding: str = "utf-8"
                     ) -> Iterator[Row | str]:
    """The lines that start in [start, end) of a JSON-lines file; `start` is a line start, and
    `first_line` its 1-based number. Bytes are split into lines before decoding, so a bad byte is
    named by its line."""
    with path.open("rb") as fh:
        fh.seek(start)

        def lines() -> Iterator[tuple[int, bytes]]:
            pos = start
            for number, raw in enumerate(fh, first_line):
                if end is not None and pos >= end:
                    return
                pos += len(raw)
                yield number, raw

        yield from _json_lines(path, lines(), encoding)


def _json_lines(path: Path, lines: Iterator[tuple[int, bytes | str]], encoding: str) -> Iterator[Row | str]:
    for line_no, raw in lines:
        if not raw.strip():
            continue
        try:
            item = loads_json_line(raw.strip(), encoding, line_no == 1)
        except UnicodeDecodeError as exc:
            raise _decode_error(path, exc, encoding, line_no) from exc
        except json.JSONDecodeError as exc:
            yield f"{path.name} line {line_no}: not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if isinstance(item, dict):
            yield Row(item, path.name, line_no, "line")
        else:
            yield f"{path.name} line {line_no}: expected an object, got {type(item).__name__}"


def loads_json_line(raw: bytes | str, encoding: str, first: bool) -> Any:
    """orjson where the bytes are UTF-8 (about three times faster on big files); json's own error
    message, with its column, for a bad line."""
    if isinstance(raw, bytes):
        if encoding in ("utf-8", "utf-8-sig") and not (first and raw.startswith(codecs.BOM_UTF8)):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
        raw = raw.decode(encoding)
    return json.loads(raw)


def _read_csv(path: Path) -> Iterator[Row | str]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    encoding = file_encoding(path)
    csv.field_size_limit(1 << 30)  # a single long cell (a whole document) is legitimate data
    with _open_text(path, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise DataError(f"{path.name}: no header row; the first line must name the columns")
            width = len(header)
            for cells in reader:
                # line numbers count the header as line 1, matching what a spreadsheet shows
                number = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != width:
                    yield (f"{path.name} row {number}: {len(cells)} cells but the header has {width} "
                           f"({', '.join(header[:6])}); check the quoting of that row")
                    continue
                yield Row(dict(zip(header, cells, strict=True)), path.name, number)
        except csv.Error as exc:
            raise DataError(f"{path.name} row {reader.line_num}: cannot be read as CSV ({exc}); check its "
                            "quotes: a cell containing the delimiter or a line break must be in double quotes, "
                            'and a quote inside it doubled ("")') from exc
        except UnicodeDecodeError as exc:
            raise _decode_error(path, exc, encoding, reader.line_num + 1) from exc


def _read_parquet(path: Path) -> Iterator[Row | str]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError for files that are not parquet
        raise DataError(f"{path.name} is not a readable parquet file ({exc})") from exc
    number = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            number += 1
            yield Row(_plain(record), path.name, number)


def _plain(value: Any) -> Any:
    """Parquet can give numpy arrays for list columns; the formats expect plain lists."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _read_txt(path: Path) -> Iterator[Row | str]:
    encoding = file_encoding(path)
    n = 0
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield Row({"text": line.rstrip("\n")}, path.name, n, "line")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding, n + 1) from exc
