"""Random access to a dataset's rows by position, for paging a preview without reloading the file.

JSON-lines and text files are indexed once by the byte offset of each line (a scan of bytes, no JSON
parsing); a page then reads only its own lines. Formats that must be parsed whole (a JSON array, CSV,
parquet, a hub dataset) are read once and kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.data.readers import Row, Unreadable, file_encoding, loads_json_line
from engine.data.sources import SourcePlan, iter_rows
from engine.text.message import say

INDEXED = (".jsonl", ".txt")


class RowPager:
    def __init__(self, plan: SourcePlan):
        self.plan = plan
        self._parts: list[tuple[Path, str, np.ndarray, np.ndarray]] = []  # file, split, line starts, line numbers
        self._rows: list[Row | str] | None = None
        if plan.hub is None and plan.files and all(p.suffix.lower() in INDEXED for p, _ in plan.files) \
                and all(file_encoding(p) in ("utf-8", "utf-8-sig") for p, _ in plan.files):
            for path, split in plan.files:
                starts, numbers = _line_index(path)
                self._parts.append((path, split, starts, numbers))
        else:
            self._rows = list(iter_rows(plan))

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return sum(len(numbers) for _, _, _, numbers in self._parts)

    def page(self, start: int, count: int) -> list[Row | str]:
        if self._rows is not None:
            return self._rows[start:start + count]
        out: list[Row | str] = []
        offset = 0
        for path, split, starts, numbers in self._parts:
            lo, hi = max(0, start - offset), min(len(numbers), start + count - offset)
            if lo < hi:
                out += _read_lines(path, split, starts, numbers, lo, hi)
            offset += len(numbers)
        return out


def _line_index(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and 1-based numbers of the non-blank lines."""
    starts = [np.zeros(1, dtype=np.int64)]
    base = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            newlines = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
            starts.append(newlines.astype(np.int64) + base + 1)
            base += len(chunk)
    begin = np.concatenate(starts)
    end = np.append(begin[1:], base)
    keep = (end - begin > 1) & (begin < base)  # a line of "\n" alone is blank
    return begin[keep], np.flatnonzero(keep).astype(np.int64) + 1


def _read_lines(path: Path, split: str, starts: np.ndarray, numbers: np.ndarray, lo: int, hi: int
                ) -> list[Row | str]:
    out: list[Row | str] = []
    text = path.suffix.lower() == ".txt"
    with path.open("rb") as fh:
        for i in range(lo, hi):
            fh.seek(int(starts[i]))
            raw = fh.readline()
            number = int(numbers[i])
            if not raw.strip():
                continue
            if text:
                out.append(Row({"text": raw.decode("utf-8-sig").rstrip("\r\n")}, path.name, number, "line", split))
                continue
            where = f"{path.name} line {number}"
            try:
                item = loads_json_line(raw.strip(), "utf-8-sig" if number == 1 else "utf-8", number == 1)
            except json.JSONDecodeError as exc:  # the same reasons as a whole file's read gives, in any language
                out.append(Unreadable(where, say("row.not_json_line", detail=exc.msg, column=exc.colno)))
                continue
            except (ValueError, UnicodeDecodeError) as exc:
                out.append(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})")
                continue
            out.append(Row(item, path.name, number, "line", split) if isinstance(item, dict)
                       else Unreadable(where, say("row.not_object", got=type(item).__name__)))
    return out

