"""Dataset statistics in one streaming pass with bounded memory.

Counts (rows, bad rows, duplicates, empty fields, turns, language mix) cover every row. Token lengths
go through the training encoder on every row up to `token_sample` rows and on a uniform random sample
beyond that, because exact tokenization of a million rows takes minutes on two cores; the result says
which it is, and a sample's truncation figures are scaled to the whole dataset.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing as mp
import os
import random
import re
import string
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.data.formats import CONVERTERS, Conversation, PlainText, Preference, RowError, Sample, detect
from engine.data.lengths import measure, sample_examples
from engine.data.sources import Row, SourceMeta, SourcePlan, file_encoding, iter_rows, read_jsonl_range
from engine.errors import DataError

MAX_BAD_KEPT = 500
DETECT_ROWS = 200
DEFAULT_TOKEN_SAMPLE = 10_000
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
PUNCT = str.maketrans({c: " " for c in string.punctuation + "，。！？；：、“”‘’（）《》【】…—"})
ASCII_NOISE = (string.punctuation + string.whitespace).encode()
Progress = Callable[[float, str], None]


@dataclass
class BadRow:
    where: str
    reason: str


@dataclass
class DatasetStats:
    name: str
    format: str
    evidence: list[str]
    columns: list[str]
    mapping: dict[str, str]
    files: list[str]
    rows: int = 0
    usable: int = 0
    bad_count: int = 0
    bad: list[BadRow] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    duplicates_exact: int = 0
    duplicates_normalized: int = 0
    empty_fields: dict[str, int] = field(default_factory=dict)
    turns: dict[str, int] = field(default_factory=dict)  # JSON keys: "1", "2", …
    language: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    token_rows: int = 0
    token_exact: bool = True
    prompt_lengths: list[int] = field(default_factory=list)
    answer_lengths: list[int] = field(default_factory=list)
    total_lengths: list[int] = field(default_factory=list)
    max_len: int = 0
    truncated: int = 0
    answer_tokens_lost: int = 0
    suggested_max_len: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample_text(sample: Sample) -> str:
    if isinstance(sample, PlainText):
        return sample.text
    if isinstance(sample, Preference):
        return "\n".join([*(m["content"] for m in sample.prompt), sample.chosen, sample.rejected])
    return "\n".join(m.get("reasoning_content", "") + m["content"] for m in sample.messages)


def language_of(text: str) -> str:
    """zh where CJK characters are at least a fifth of the letters, en for Latin script, else other.
    Cheap on purpose: it runs on every row of a million-row file."""
    if text.isascii():
        return "en" if LATIN.search(text) else "other"
    if CJK.search(text) is None:
        return "en" if LATIN.search(text) else "other"
    # a CJK character takes 3 bytes in UTF-8: the extra bytes count them without a per-character scan
    cjk = (len(text.encode("utf-8", "surrogatepass")) - len(text)) / 2
    latin = len(text) - cjk
    return "zh" if cjk >= 0.2 * max(1.0, latin) else "en"


def text_key(text: str | bytes) -> int:
    """A 64-bit digest that is the same in every process (str's hash() is salted per process, and
    statistics merge sets of keys computed by worker processes)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def normalized_key(text: str) -> int:
    """Key of the text without case, whitespace and punctuation, for near-duplicates."""
    lowered = text.lower()
    if lowered.isascii():
        return text_key(lowered.encode().translate(None, ASCII_NOISE))
    return text_key("".join(lowered.translate(PUNCT).split()))


def turns_of(sample: Sample) -> int:
    if isinstance(sample, Conversation):
        return sum(1 for m in sample.messages if m["role"] == "user") or 1
    if isinstance(sample, Preference):
        return sum(1 for m in sample.prompt if m["role"] == "user") or 1
    return 1


def _empty_fields(data: dict[str, Any], counts: Counter) -> None:
    for key, value in data.items():
        if value is None or (isinstance(value, (str, list, dict)) and not value):
            counts[key] += 1


def estimate_rows(plan: SourcePlan) -> int:
    """Line count of line-based files (fast: bytes only), for a progress bar; 0 where unknown."""
    total = 0
    for path, _ in plan.files:
        if path.suffix.lower() not in (".jsonl", ".txt"):
            return 0
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                total += chunk.count(b"\n")
    return total


class Tally:
    """Everything counted over rows; tallies of parts of a file merge into the tally of the whole."""

    def __init__(self, meta: SourceMeta, fmt: str, token_sample: int, seed: int):
        self.meta, self.fmt_name, self.convert, self.token_sample = meta, fmt, CONVERTERS[fmt], token_sample
        self.rows = self.unreadable = self.bad_count = self.usable = 0
        self.bad: list[BadRow] = []
        self.columns: dict[str, None] = {}
        self.empty: Counter = Counter()
        self.turns: Counter = Counter()
        self.language: Counter = Counter()
        self.labels: Counter = Counter()
        self.splits: Counter = Counter()
        self.exact: set[int] = set()
        self.loose: set[int] = set()
        self.reservoir: list[Sample] = []
        self.rng = random.Random(seed)

    def add(self, item: Row | str) -> None:
        if isinstance(item, str):
            self.unreadable += 1
            self._bad(*item.partition(": ")[::2])
            return
        self.rows += 1
        if len(self.columns) < 100:
            self.columns.update(dict.fromkeys(item.data))
        _empty_fields(item.data, self.empty)
        try:
            sample = self.convert(item.data, self.meta)
        except RowError as exc:
            self._bad(item.where, str(exc))
            return
        self.usable += 1
        self.splits[item.split] += 1
        text = sample_text(sample)
        self.exact.add(text_key(text))
        self.loose.add(normalized_key(text))
        self.turns[turns_of(sample)] += 1
        self.language[language_of(text)] += 1
        if isinstance(sample, Conversation) and sample.label is not None:
            self.labels["desirable" if sample.label else "undesirable"] += 1
        # reservoir sampling: every usable row has the same chance to be measured
        if len(self.reservoir) < self.token_sample or self.token_sample <= 0:
            self.reservoir.append(sample)
        else:
            slot = self.rng.randrange(self.usable)
            if slot < self.token_sample:
                self.reservoir[slot] = sample

    def _bad(self, where: str, reason: str) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_KEPT:
            self.bad.append(BadRow(where, reason))

    def merge(self, other: Tally) -> None:
        """Fold in the tally of a later part; the reservoirs combine in proportion to their rows."""
        mine, theirs = self.usable, other.usable
        for name in ("rows", "unreadable", "bad_count", "usable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.bad = (self.bad + other.bad)[:MAX_BAD_KEPT]
        self.columns.update(other.columns)
        for name in ("empty", "turns", "language", "labels", "splits"):
            getattr(self, name).update(getattr(other, name))
        self.exact |= other.exact
        self.loose |= other.loose
        if self.token_sample > 0 and len(self.reservoir) + len(other.reservoir) > self.token_sample:
            take = round(self.token_sample * theirs / max(1, mine + theirs))
            self.reservoir = (self.rng.sample(self.reservoir, min(len(self.reservoir), self.token_sample - take))
                              + self.rng.sample(other.reservoir, min(len(other.reservoir), take)))
        else:
            self.reservoir += other.reservoir

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("convert")  # a module-level function: found again by name
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.convert = CONVERTERS[state["fmt_name"]]


def compute_stats(plan: SourcePlan, fmt: str, tok: Any, max_len: int, train_on_prompt: bool = False,
                  token_sample: int = DEFAULT_TOKEN_SAMPLE, progress: Progress | None = None, seed: int = 0,
                  workers: int | None = None) -> DatasetStats:
    """`tok` is a tokenizer, a function that loads one, or None for counts without token lengths."""
    started = time.time()
    report = progress or (lambda fraction, message: None)
    head = list(itertools.islice(iter_rows(plan), DETECT_ROWS))
    first_rows = [r for r in head if isinstance(r, Row)]
    if not first_rows:
        first_bad = next((r for r in head if isinstance(r, str)), "")
        raise DataError(f"dataset {plan.name}: no readable row" + (f" ({first_bad})" if first_bad else ""))
    try:
        detection = detect(first_rows, plan.meta)
    except RowError as exc:
        raise DataError(str(exc)) from exc
    if fmt != "auto":
        detection.format, detection.evidence = fmt, [f"format set by hand to {fmt}"]
    ranges = parallel_ranges(plan, workers if workers is not None else (os.cpu_count() or 1))
    tally = None
    if ranges:
        try:
            tally = _tally_in_processes(plan, detection.format, ranges, token_sample, seed, report)
        except BrokenProcessPool:
            tally = None  # a worker could not start (a frozen or embedded interpreter): do it here
    if tally is None:
        tally = Tally(plan.meta, detection.format, token_sample, seed)
        expected = estimate_rows(plan)
        for n, item in enumerate(iter_rows(plan), 1):
            tally.add(item)
            if n % 5000 == 0:
                report(0.8 * (min(0.95, n / expected) if expected else 0.5), f"{n:,} rows read")
    stats = DatasetStats(plan.name, detection.format, detection.evidence, list(tally.columns),
                         dict(plan.meta.columns), [str(p) for p, _ in plan.files], max_len=max_len)
    stats.rows, stats.usable, stats.bad_count, stats.bad = tally.rows + tally.unreadable, tally.usable, \
        tally.bad_count, tally.bad
    stats.duplicates_exact = tally.usable - len(tally.exact)
    stats.duplicates_normalized = tally.usable - len(tally.loose)
    stats.empty_fields = dict(tally.empty.most_common())
    stats.turns = {str(k): v for k, v in sorted(tally.turns.items())}
    stats.language = dict(tally.language.most_common())
    stats.labels = dict(tally.labels)
    stats.splits = dict(tally.splits)
    if tok is not None and tally.reservoir:
        if callable(tok) and not hasattr(tok, "apply_chat_template"):
            report(0.8, "loading the tokenizer")
            tok = tok()  # loaded only now: a dataset that cannot be read fails without waiting for a model
        _token_lengths(stats, tally.reservoir, tok, max_len, train_on_prompt, report)
    stats.seconds = round(time.time() - started, 2)
    return stats


# --- one pass split over processes: JSON parsing and per-row work are pure Python, one core each ---
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


def _tally_in_processes(plan: SourcePlan, fmt: str, parts: list, token_sample: int, seed: int,
                        report: Progress) -> Tally:
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


def _token_lengths(stats: DatasetStats, samples: list[Sample], tok: Any, max_len: int, train_on_prompt: bool,
                   report: Progress) -> None:
    stats.token_rows = len(samples)
    stats.token_exact = len(samples) >= stats.usable
    truncated = lost = 0
    batch = 256
    for start in range(0, len(samples), batch):
        chunk = samples[start:start + batch]
        for sample, examples in zip(chunk, sample_examples(tok, chunk, train_on_prompt), strict=True):
            if isinstance(examples, RowError):
                continue
            m = measure(examples, max_len, text=isinstance(sample, PlainText), pair=isinstance(sample, Preference))
            stats.prompt_lengths.append(m.prompt)
            stats.answer_lengths.append(m.answer)
            stats.total_lengths.append(m.total)
            truncated += m.truncated
            lost += m.answer_lost
        report(0.8 + 0.2 * min(1.0, (start + batch) / len(samples)),
               f"token lengths: {min(start + batch, len(samples)):,} / {len(samples):,} samples")
    scale = stats.usable / len(samples) if samples else 1.0
    stats.truncated = round(truncated * scale)
    stats.answer_tokens_lost = round(lost * scale)
    stats.suggested_max_len = {"p95": _round_up(_percentile(stats.total_lengths, 95)),
                               "p99": _round_up(_percentile(stats.total_lengths, 99))}


def _percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _round_up(n: int, to: int = 64) -> int:
    return max(to, -(-n // to) * to)
