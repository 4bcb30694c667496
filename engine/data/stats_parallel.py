"""One statistics pass split over processes: JSON parsing and per-row work are pure Python, so each
core counts its own part of a big JSON-lines file (cut at line starts) and the tallies are merged."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from engine.data.readers import Row, file_encoding, read_jsonl_range
from engine.data.sources import SourceMeta, SourcePlan
from engine.data.tally import Tally, estimate_rows

PARALLEL_MIN_BYTES = 32 << 20


def parallel_ranges(plan: SourcePlan, workers: int) -> list[tuple[Path, str, int, int | None, int]]:
    """(file, split, start, end, first line number) parts of big UTF-8 JSON-lines files, cut at line
    starts; empty where one process is the better choice (small data, other formats, one core)."""
    if workers < 2 or plan.hub is not None or not plan.files:
        return []
    if any(p.suffix.lower() != ".jsonl" or file_encoding(p) != "utf-8" for p, _ in plan.files):
        return []
    sizes = [p.stat().st_size for p, _ in plan.files]
    if sum(sizes) < PARALLEL_MIN_BYTES:
        return []
    parts = []
    for (path, split), size in zip(plan.files, sizes, strict=True):
        cuts = [0]
        with path.open("rb") as fh:
            for k in range(1, workers):
                fh.seek(size * k // workers)
                fh.readline()  # move to the next line start
                cuts.append(fh.tell())
        cuts.append(size)
        line = 1
        with path.open("rb") as fh:
            for a, b in zip(cuts[:-1], cuts[1:], strict=True):
                if b > a:
                    parts.append((path, split, a, b, line))
                    fh.seek(a)
                    line += fh.read(b - a).count(b"\n")
    return parts


def _tally_part(part: tuple[Path, str, int, int | None, int], meta: SourceMeta, fmt: str, token_sample: int,
                seed: int, counter: Any) -> Tally:
    path, split, start, end, first_line = part
    tally = Tally(meta, fmt, token_sample, seed + first_line)
    for n, item in enumerate(read_jsonl_range(path, start, end, first_line), 1):
        if isinstance(item, Row):
            item.split = split
        tally.add(item)
        if n % 2000 == 0:
            with counter.get_lock():
                counter.value += 2000
    return tally


def tally_in_processes(plan: SourcePlan, fmt: str, parts: list, token_sample: int, seed: int,
                       report: Callable[[float, str], None]) -> Tally:
    context = mp.get_context("spawn")  # never fork a process that runs threads (the UI, training)
    counter = context.Value("q", 0)
    expected = max(1, estimate_rows(plan))
    with ProcessPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1), mp_context=context,
                             initializer=_init_worker, initargs=(counter,)) as pool:
        futures = [pool.submit(_tally_part_in_worker, part, plan.meta, fmt, token_sample, seed) for part in parts]
        try:
            while not all(f.done() for f in futures):
                time.sleep(0.25)
                report(0.8 * min(0.95, counter.value / expected), f"{counter.value:,} rows read")
        except BaseException:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()  # cancel: stop the workers now, not after they finish their part
            raise
        tallies = [f.result() for f in futures]
    total = tallies[0]
    for other in tallies[1:]:
        total.merge(other)
    return total


_COUNTER: Any = None


def _init_worker(counter: Any) -> None:
    global _COUNTER
    _COUNTER = counter


def _tally_part_in_worker(part: tuple, meta: SourceMeta, fmt: str, token_sample: int, seed: int) -> Tally:
    return _tally_part(part, meta, fmt, token_sample, seed, _COUNTER)


