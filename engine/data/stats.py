"""Dataset statistics in one streaming pass with bounded memory.

Counts (rows, bad rows, duplicates, empty fields, turns, language mix) cover every row. Token lengths
go through the training encoder on every row up to `token_sample` rows and on a uniform random sample
beyond that, because exact tokenization of a million rows takes minutes on two cores; the result says
which it is, and a sample's truncation figures are scaled to the whole dataset.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.data import stats_parallel
from engine.data.detect import Detection, detect
from engine.data.encode import LossMask
from engine.data.formats import PlainText, Preference, Sample
from engine.data.lengths import measure, sample_examples
from engine.data.readers import Row
from engine.data.sources import SourcePlan, iter_rows
from engine.data.tally import BadRow, Tally, estimate_rows
from engine.errors import DataError, RowError
from engine.text.message import say

DETECT_ROWS = 200
DEFAULT_TOKEN_SAMPLE = 10_000
Progress = Callable[[float, str], None]


@dataclass
class DatasetStats:
    name: str
    format: str
    evidence: list[str]
    columns: list[str]
    mapping: dict[str, str]
    files: list[str]
    reasons: list[dict[str, Any]] = field(default_factory=list)  # the evidence as messages, for the reader's language
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
    mix: list[dict[str, Any]] = field(default_factory=list)  # several datasets: each one's rows, used and share
    mix_strategy: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_stats(plan: SourcePlan, fmt: str, tok: Any, max_len: int, mask: LossMask = LossMask(),
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
        raise DataError(exc.text or str(exc)) from exc
    if fmt != "auto":
        detection = Detection(fmt, [say("data.why_by_hand", fmt=fmt)])
    ranges = stats_parallel.parallel_ranges(plan, workers if workers is not None else (os.cpu_count() or 1))
    tally = None
    if ranges:
        try:
            tally = stats_parallel.tally_in_processes(plan, detection.format, ranges, token_sample, seed, report)
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
                         dict(plan.meta.columns), [str(p) for p, _ in plan.files],
                         [r.to_dict() for r in detection.reasons], max_len=max_len)
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
        token_lengths(stats, tally.reservoir, tok, max_len, mask, report)
    stats.seconds = round(time.time() - started, 2)
    return stats


def token_lengths(stats: DatasetStats, samples: list[Sample], tok: Any, max_len: int, mask: LossMask,
                  report: Progress) -> None:
    """Token lengths of `samples` (all of the usable rows, or a sample of them) through the training encoder."""
    stats.token_rows = len(samples)
    stats.token_exact = len(samples) >= stats.usable
    truncated = lost = 0
    batch = 256
    for start in range(0, len(samples), batch):
        chunk = samples[start:start + batch]
        for sample, examples in zip(chunk, sample_examples(tok, chunk, mask), strict=True):
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
