"""Reading the rows of one data file: JSON, JSON lines, CSV / TSV, parquet and text.

Encodings are detected (UTF-8, UTF-8 or UTF-16 with BOM, GB18030/GBK); empty, binary and renamed files
are refused at once with what they look like; a row that cannot be read is yielded as a message naming
its file and line, and reading goes on. Every row keeps where it came from (file and 1-based row or
line number) so later stages can name the exact bad row.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from engine.errors import DataError
from engine.text.message import Text, say

DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt")
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



class Unreadable(str):
    """A row that could not be read, as the "where: reason" text every reader of rows already takes, with
    the reason kept as a message for the reader's language."""

    where: str
    text: Text

    def __new__(cls, where: str, text: Text) -> Unreadable:
        item = super().__new__(cls, f"{where}: {text}")
        item.where, item.text = where, text
        return item

    def __reduce__(self) -> tuple[Any, ...]:  # rows are counted in other processes too
        return Unreadable, (self.where, self.text)

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


def iter_split_files(files: Iterable[tuple[Path, str]], max_samples: int = 0) -> Iterator[Row | str]:
    """The rows of (file, split) pairs, each row marked with its split; `max_samples` limits the train rows."""
    taken = 0
    for path, split in files:
        for item in iter_file(path):
            if isinstance(item, Row):
                if split == "train":
                    if max_samples and taken >= max_samples:
                        break
                    taken += 1
                item.split = split
            yield item


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
            yield Unreadable(f"{path.name} row {i}", say("row.not_object_fields", got=type(item).__name__))


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
            yield Unreadable(f"{path.name} line {line_no}", say("row.not_json_line", detail=exc.msg, column=exc.colno))
            continue
        if isinstance(item, dict):
            yield Row(item, path.name, line_no, "line")
        else:
            yield Unreadable(f"{path.name} line {line_no}", say("row.not_object", got=type(item).__name__))


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
                    yield Unreadable(f"{path.name} row {number}", say("row.csv_cells", cells=len(cells), width=width,
                                                                      header=", ".join(header[:6])))
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
