"""Several datasets in one run: `dataset: a.json, b.jsonl` trains on both, and `mix: 0.7, 0.3` sets each
one's share of the training rows. The mixed set has as many training rows as the datasets together; a
dataset whose share asks for more rows than it has is repeated (every row the same number of times, the
remainder drawn at random), one with fewer is sampled without repetition. Validation and test rows are
kept as they are. The run's data report states each dataset's share."""

from __future__ import annotations

import random
from typing import Any

from engine.data.formats import Normalized


def counts_for(weights: list[float], total: int) -> list[int]:
    """Rows per dataset: shares of `total`, rounded so that they add up to it exactly."""
    raw = [w * total for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[:total - sum(counts)]:
        counts[i] += 1
    return counts


def mix_samples(parts: list[tuple[str, Normalized]], weights: list[float], seed: int
                ) -> tuple[Normalized, list[dict[str, Any]]]:
    """One Normalized of every part, the training rows in the asked shares; and a line of figures per part."""
    rng = random.Random(seed)
    trains = [[i for i, s in enumerate(n.splits or ["train"] * len(n.samples)) if s == "train"] for _, n in parts]
    total = sum(len(t) for t in trains)
    counts = counts_for(weights, total) if weights else [len(t) for t in trains]
    mixed = Normalized("+".join(dict.fromkeys(n.format for _, n in parts)))
    figures = []
    for (name, part), train, count in zip(parts, trains, counts, strict=True):
        splits = part.splits or ["train"] * len(part.samples)
        chosen = _draw(train, count, rng)
        kept = chosen + [i for i, s in enumerate(splits) if s != "train"]
        mixed.samples += [part.samples[i] for i in kept]
        mixed.origins += [f"{name}: {part.origins[i]}" for i in kept]
        mixed.splits += [splits[i] for i in kept]
        mixed.files += part.files
        mixed.bad += [f"{name}: {b}" for b in part.bad]
        figures.append({"dataset": name, "rows": len(train), "used": count, "share": count / total if total else 0.0})
    return mixed, figures


def _draw(rows: list[int], count: int, rng: random.Random) -> list[int]:
    if not rows:
        return []
    whole, rest = divmod(count, len(rows))
    return rows * whole + sorted(rng.sample(rows, rest))
