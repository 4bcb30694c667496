"""Several datasets in one run: `dataset: a.json, b.jsonl` trains on both, and `mix: 0.7, 0.3` sets each
one's share of the training rows. The mixed set has as many training rows as the datasets together; a
dataset whose share asks for more rows than it has is repeated (every row the same number of times, the
remainder drawn at random), one with fewer is sampled without repetition (`mix_strategy: concat`).
`interleave_under` sizes the mix so that no dataset repeats (it ends where the first dataset runs out at
its share), `interleave_over` so that every row of every dataset is used at least once; both lay the
training rows out alternately in the asked shares, as a stream of the datasets would. Validation and test
rows are kept as they are. The run's data report states each dataset's share."""

from __future__ import annotations

import math
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


def mix_total(sizes: list[int], weights: list[float], strategy: str) -> int:
    """Training rows of the mix: the datasets together (concat), or where the first (interleave_under) or
    the last (interleave_over) dataset is used up at its share."""
    if strategy == "concat" or not sizes:
        return sum(sizes)
    shares = weights or [1 / len(sizes)] * len(sizes)
    if strategy == "interleave_under":
        return int(min(n / w for n, w in zip(sizes, shares, strict=True)) + 1e-9)
    return math.ceil(max(n / w for n, w in zip(sizes, shares, strict=True)) - 1e-9)


def mix_samples(parts: list[tuple[str, Normalized]], weights: list[float], seed: int, strategy: str = "concat"
                ) -> tuple[Normalized, list[dict[str, Any]]]:
    """One Normalized of every part, the training rows in the asked shares; and a line of figures per part."""
    rng = random.Random(seed)
    trains = [[i for i, s in enumerate(n.splits or ["train"] * len(n.samples)) if s == "train"] for _, n in parts]
    total = mix_total([len(t) for t in trains], weights, strategy)
    if weights or strategy != "concat":
        counts = counts_for(weights or [1 / len(trains)] * len(trains), total)
    else:
        counts = [len(t) for t in trains]
    mixed = Normalized("+".join(dict.fromkeys(n.format for _, n in parts)))
    figures, drawn, held = [], [], []
    for (name, part), train, count in zip(parts, trains, counts, strict=True):
        splits = part.splits or ["train"] * len(part.samples)
        drawn.append([(name, part, i) for i in _draw(train, count, rng)])
        held += [(name, part, i) for i, s in enumerate(splits) if s != "train"]
        mixed.files += part.files
        mixed.bad += [f"{name}: {b}" for b in part.bad]
        figures.append({"dataset": name, "rows": len(train), "used": count, "share": count / total if total else 0.0})
    rows = _alternate(drawn) if strategy != "concat" else [r for d in drawn for r in d]
    for name, part, i in rows + held:
        mixed.samples.append(part.samples[i])
        mixed.origins.append(f"{name}: {part.origins[i]}")
        mixed.splits.append(part.splits[i] if part.splits else "train")
    return mixed, figures


def _alternate(drawn: list[list[Any]]) -> list[Any]:
    """The rows of every dataset merged so that each stays at its share all along the order (the row of
    dataset d numbered k goes at position (k + ½) / count_d)."""
    keyed = [((k + 0.5) / len(rows), d, row) for d, rows in enumerate(drawn) for k, row in enumerate(rows)]
    return [row for _, _, row in sorted(keyed, key=lambda t: (t[0], t[1]))]


def _draw(rows: list[int], count: int, rng: random.Random) -> list[int]:
    if not rows:
        return []
    whole, rest = divmod(count, len(rows))
    return rows * whole + sorted(rng.sample(rows, rest))
