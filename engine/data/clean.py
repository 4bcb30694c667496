"""Cleaning a dataset and saving it into the workspace as normalised JSON lines with a dataset card.

Output: `<outputs>/datasets/<name>/train.jsonl` (+ `valid.jsonl`, `test.jsonl` when split) in one format
every TuneDesk reader understands (OpenAI-style messages, `chosen`/`rejected` pairs, `label` for KTO,
`text` for plain text), plus `dataset_card.md` and `card.json` (source, mapping, what was removed,
statistics). The user's source file is only ever read.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.data.encode import LossMask
from engine.data.formats import CONVERTERS, Conversation, PlainText, Preference, Sample
from engine.data.lengths import measure, sample_examples
from engine.data.readers import Row
from engine.data.sources import SourcePlan, iter_rows
from engine.data.tally import estimate_rows, normalized_key, sample_text, text_key
from engine.errors import DataError, RowError

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass
class CleanOptions:
    name: str
    dedupe: str = "exact"  # none | exact | normalized
    drop_bad: bool = True
    min_tokens: int = 0  # 0: no lower bound (token filters need a tokenizer)
    max_tokens: int = 0  # 0: no upper bound
    shuffle: bool = True
    seed: int = 42
    valid_size: float = 0.0  # fraction (<1) or row count (>=1)
    test_size: float = 0.0
    overwrite: bool = False


@dataclass
class CleanResult:
    folder: str  # not "path": gradio_client takes any dict with a "path" for a file to download
    rows_in: int
    bad: int
    duplicates: int
    filtered: int
    train: int
    valid: int
    test: int
    seconds: float


def record_of(sample: Sample) -> dict[str, Any]:
    """A sample in the normalised on-disk format, which detection reads back as the same format."""
    if isinstance(sample, PlainText):
        return {"text": sample.text}
    if isinstance(sample, Preference):
        out: dict[str, Any] = {"messages": sample.prompt, "chosen": sample.chosen, "rejected": sample.rejected}
    else:
        out = {"messages": sample.messages}
        if sample.label is not None:
            out["label"] = sample.label
    if sample.tools:
        out["tools"] = sample.tools
    return out


def _count(size: float, total: int) -> int:
    return min(total, int(size) if size >= 1 else round(total * size))


def clean_dataset(plan: SourcePlan, fmt: str, options: CleanOptions, datasets_dir: Path, tok: Any | None = None,
                  progress: Callable[[float, str], None] | None = None, source_label: str = "") -> CleanResult:
    started = time.time()
    report = progress or (lambda fraction, message: None)
    name = options.name.strip()
    if not name or set(name) - NAME_CHARS or name.startswith("."):
        raise DataError(f"dataset name '{name}': use letters, digits, '-', '_' or '.' (it becomes a folder name)")
    target = datasets_dir / name
    sources = [p.resolve() for p, _ in plan.files]
    if any(target.resolve() in p.parents for p in sources):
        raise DataError(f"{target} holds the source data itself; pick another name (the source is never "
                        "written over)")
    if target.exists() and not options.overwrite:
        raise DataError(f"a saved dataset '{name}' already exists at {target}; pick another name or allow "
                        "overwriting")
    if (options.min_tokens or options.max_tokens) and tok is None:
        raise DataError("filtering by token length needs a model's tokenizer: pick a model first")
    datasets_dir.mkdir(parents=True, exist_ok=True)
    tmp = datasets_dir / f".{name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        spool = _Spool(tmp / "kept.jsonl")
        counts = _keep_rows(plan, fmt, options, tok, spool, report)
        spool.close()
        if counts.bad_count and not options.drop_bad:
            raise DataError(f"{counts.bad_count} rows cannot be used (first: {counts.bad[0]}). Fix the column "
                            "mapping, or choose to drop bad rows")
        total = len(spool.offsets)
        if not total:
            raise DataError("nothing is left to save after cleaning: every row was bad, a duplicate or filtered out")
        order = list(range(total))
        if options.shuffle:
            random.Random(options.seed).shuffle(order)
        n_test = _count(options.test_size, total)
        n_valid = _count(options.valid_size, total - n_test)
        if n_test + n_valid >= total:
            raise DataError(f"validation ({n_valid}) and test ({n_test}) rows would leave nothing to train on "
                            f"among {total} rows; make them smaller")
        parts = {"test": order[:n_test], "valid": order[n_test:n_test + n_valid], "train": order[n_test + n_valid:]}
        report(0.9, "writing")
        for split, indices in parts.items():
            if indices:
                spool.copy_lines(indices, tmp / f"{split}.jsonl")
        (tmp / "kept.jsonl").unlink()
        result = CleanResult(str(target), counts.rows_in, counts.bad_count, counts.duplicates, counts.filtered,
                             len(parts["train"]), len(parts["valid"]), len(parts["test"]),
                             round(time.time() - started, 2))
        card = {"name": name, "source": source_label or plan.name, "files": [str(p) for p in sources],
                "format": fmt, "mapping": plan.meta.columns, "options": asdict(options), "result": asdict(result),
                "bad_rows": counts.bad, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        (tmp / "card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1), encoding="utf-8")
        (tmp / "dataset_card.md").write_text(_card_markdown(card), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


@dataclass
class _Counts:
    bad: list[str]  # the first 50, for the dataset card and the error message
    bad_count: int = 0
    rows_in: int = 0
    duplicates: int = 0
    filtered: int = 0


class _Spool:
    """Kept records written to disk as they are found, so memory stays flat however many rows there are;
    a record is found again by its byte offset when the shuffled splits are written."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = path.open("wb")
        self.offsets = array("q")

    def add(self, sample: Sample) -> None:
        self.offsets.append(self.fh.tell())
        self.fh.write(json.dumps(record_of(sample), ensure_ascii=False).encode() + b"\n")

    def close(self) -> None:
        self.fh.close()

    def copy_lines(self, indices: list[int], target: Path) -> None:
        with self.path.open("rb") as src, target.open("wb") as dst:
            for i in indices:
                src.seek(self.offsets[i])
                dst.write(src.readline())


def _keep_rows(plan: SourcePlan, fmt: str, options: CleanOptions, tok: Any | None, spool: _Spool,
               report: Callable[[float, str], None]) -> _Counts:
    convert = CONVERTERS[fmt]
    counts = _Counts([])
    expected = estimate_rows(plan)
    seen: set[int] = set()
    pending: list[Sample] = []  # waiting for a batched token count

    def flush() -> None:
        kept, dropped = _filter_lengths(pending, tok, options) if tok is not None else (pending, 0)
        counts.filtered += dropped
        for sample in kept:
            spool.add(sample)
        pending.clear()

    def bad(message: str) -> None:
        counts.bad_count += 1
        if len(counts.bad) < 50:
            counts.bad.append(message)

    for item in iter_rows(plan):
        counts.rows_in += 1
        if counts.rows_in % 5000 == 0:
            report(0.85 * min(0.99, counts.rows_in / expected) if expected else 0.4, f"{counts.rows_in:,} rows read")
        if not isinstance(item, Row):
            bad(item)
            continue
        try:
            sample = convert(item.data, plan.meta)
        except RowError as exc:
            bad(f"{item.where}: {exc}")
            continue
        if options.dedupe != "none":
            text = sample_text(sample)
            if isinstance(sample, Conversation) and sample.label is not None:
                text = f"{sample.label}\x00{text}"  # the same answer may be both a good and a bad example
            key = normalized_key(text) if options.dedupe == "normalized" else text_key(text)
            if key in seen:
                counts.duplicates += 1
                continue
            seen.add(key)
        pending.append(sample)
        if len(pending) >= 256:
            flush()
    flush()
    return counts


def _filter_lengths(samples: list[Sample], tok: Any, options: CleanOptions) -> tuple[list[Sample], int]:
    """The samples whose token length (as training renders them) lies within the bounds."""
    if not (options.min_tokens or options.max_tokens):
        return samples, 0
    kept: list[Sample] = []
    for sample, examples in zip(samples, sample_examples(tok, samples, LossMask()), strict=True):
        if isinstance(examples, RowError):
            continue
        total = measure(examples, 1 << 30, pair=isinstance(sample, Preference)).total
        too_short = bool(options.min_tokens) and total < options.min_tokens
        if not too_short and not (options.max_tokens and total > options.max_tokens):
            kept.append(sample)
    return kept, len(samples) - len(kept)


def _card_markdown(card: dict[str, Any]) -> str:
    r = card["result"]
    o = card["options"]
    lines = [f"# {card['name']}", "", f"Saved by TuneDesk on {card['created']} from `{card['source']}` "
             f"({card['format']} format).", "",
             "| | rows |", "|---|---|", f"| read | {r['rows_in']} |", f"| bad, dropped | {r['bad']} |",
             f"| duplicates removed ({o['dedupe']}) | {r['duplicates']} |",
             f"| outside {o['min_tokens'] or '–'}…{o['max_tokens'] or '–'} tokens | {r['filtered']} |",
             f"| train | {r['train']} |", f"| valid | {r['valid']} |", f"| test | {r['test']} |", "",
             f"Shuffled: {o['shuffle']} (seed {o['seed']}). Column mapping: "
             f"`{json.dumps(card['mapping'], ensure_ascii=False) or '{}'}`.", ""]
    if card["bad_rows"]:
        lines += ["## Rows dropped as bad (first 50)", ""] + [f"- {b}" for b in card["bad_rows"]]
    return "\n".join(lines) + "\n"
