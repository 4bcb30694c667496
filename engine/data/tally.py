"""Counting rows for the Dataset Explorer: what one pass over a dataset tallies, row by row.

Tallies of parts of a dataset (counted in separate processes) merge into the tally of the whole, so
every key is a digest that is the same in every process.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any

from engine.data.formats import CONVERTERS, Conversation, PlainText, Preference, Sample
from engine.data.readers import Row
from engine.data.sources import SourceMeta, SourcePlan
from engine.errors import RowError

MAX_BAD_KEPT = 500
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
PUNCT = str.maketrans({c: " " for c in string.punctuation + "，。！？；：、“”‘’（）《》【】…—"})
ASCII_NOISE = (string.punctuation + string.whitespace).encode()


@dataclass
class BadRow:
    where: str
    reason: str  # in English
    text: dict[str, Any] | None = None  # the reason as a message (engine/text), for the reader's language


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
            where, _, reason = item.partition(": ")
            text = getattr(item, "text", None)
            self._bad(where, reason, text.to_dict() if text is not None else None)
            return
        self.rows += 1
        if len(self.columns) < 100:
            self.columns.update(dict.fromkeys(item.data))
        _empty_fields(item.data, self.empty)
        try:
            sample = self.convert(item.data, self.meta)
        except RowError as exc:
            self._bad(item.where, str(exc), exc.text.to_dict() if exc.text is not None else None)
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

    def _bad(self, where: str, reason: str, text: dict[str, Any] | None = None) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_KEPT:
            self.bad.append(BadRow(where, reason, text))

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


