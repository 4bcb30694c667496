"""Several datasets seen as a run mixes them. The Dataset Explorer reads each part as it reads one
dataset, converts the rows with the same converters, and draws the mix with `mix_samples` and the run's
seed, so the preview's order and the shares it states are the training set's own."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from engine.data.formats import Normalized, normalize
from engine.data.mix import mix_samples
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.data.stats import DatasetStats


@dataclass
class MixPart:
    """One dataset of the mix: its name as the dataset field gives it, how it reads, and its rows."""

    name: str
    meta: SourceMeta
    format: str
    rows: list[Row]


@dataclass
class MixedView:
    """The mix in training order (the training rows as drawn, then the validation and test rows)."""

    parts: dict[str, MixPart]
    order: list[tuple[str, Row]]  # (dataset, row)
    normalized: Normalized
    figures: list[dict[str, Any]] = field(default_factory=list)  # each dataset's rows, used and share

    @property
    def format(self) -> str:
        return self.normalized.format

    def train_samples(self) -> list[Any]:
        return [s for s, split in zip(self.normalized.samples, self.normalized.splits, strict=True)
                if split == "train"]


def mixed_view(parts: list[MixPart], weights: list[float], seed: int, strategy: str) -> MixedView:
    converted = [(p.name, normalize(p.rows, p.meta, p.format)) for p in parts]
    mixed, figures = mix_samples(converted, weights, seed, strategy)
    by_where = {p.name: {row.where: row for row in p.rows} for p in parts}
    order = []
    for origin in mixed.origins:
        name = next(p.name for p in parts if origin.startswith(p.name + ": "))
        order.append((name, by_where[name][origin[len(name) + 2:]]))
    return MixedView({p.name: p for p in parts}, order, mixed, figures)


def combined_stats(name: str, view: MixedView, counted: dict[str, DatasetStats], max_len: int, strategy: str
                   ) -> DatasetStats:
    """The parts' counts added up (what the files hold) and the mix's figures; the token lengths are
    measured afterwards on the mix itself."""
    parts = list(counted.values())
    stats = DatasetStats(name, view.format, [f"{n}: {p.format}" for n, p in counted.items()],
                         list(dict.fromkeys(c for p in parts for c in p.columns)), {},
                         [f for p in parts for f in p.files], max_len=max_len)
    stats.rows = sum(p.rows for p in parts)
    stats.usable = sum(p.usable for p in parts)
    stats.bad_count = sum(p.bad_count for p in parts)
    stats.bad = [replace(b, where=f"{n}: {b.where}") for n, p in counted.items() for b in p.bad]
    stats.duplicates_exact = sum(p.duplicates_exact for p in parts)
    stats.duplicates_normalized = sum(p.duplicates_normalized for p in parts)
    for attr in ("empty_fields", "turns", "language", "labels", "splits"):
        total: Counter = Counter()
        for p in parts:
            total.update(getattr(p, attr))
        setattr(stats, attr, dict(total.most_common()))
    stats.mix, stats.mix_strategy = view.figures, strategy
    return stats

