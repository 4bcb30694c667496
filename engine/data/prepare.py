"""From a TrainConfig's dataset to train/validation examples and a report of what happened.

`read_samples` runs before any model is loaded, so a dataset whose every row is bad fails fast.
`encode_samples` needs the tokenizer and produces model-ready examples.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.config import TrainConfig
from engine.data.encode import EncodeStats, encode_conversation, encode_text, preference_record
from engine.data.formats import Conversation, Normalized, PlainText, Preference, RowError, detect_format, normalize
from engine.data.sources import load_source
from engine.errors import DataError

METHOD_FORMATS = {"sft": ("alpaca", "sharegpt", "openai"), "dpo": ("pairwise",), "pt": ("text", "alpaca", "sharegpt",
                                                                                       "openai")}
MAX_BAD_SHOWN = 20


@dataclass
class DataReport:
    dataset: str
    format: str
    rows: int = 0
    usable: int = 0
    bad: list[str] = field(default_factory=list)
    bad_count: int = 0
    truncated: int = 0
    too_long: int = 0
    examples: int = 0
    train_examples: int = 0
    val_examples: int = 0
    tokens: int = 0
    trained_tokens: int = 0

    def lines(self) -> list[str]:
        out = [f"dataset {self.dataset}: format {self.format}, {self.rows} rows, {self.usable} usable, "
               f"{self.bad_count} bad"]
        out += [f"  bad: {b}" for b in self.bad]
        if self.bad_count > len(self.bad):
            out.append(f"  … and {self.bad_count - len(self.bad)} more bad rows")
        if self.truncated or self.too_long:
            out.append(f"  {self.truncated} examples truncated to max_seq_length, {self.too_long} dropped because "
                       f"their prompt alone exceeds it (raise max_seq_length to keep them)")
        out.append(f"  {self.train_examples} train / {self.val_examples} validation examples, {self.tokens} tokens "
                   f"({self.trained_tokens} trained)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_samples(config: TrainConfig) -> tuple[Normalized, DataReport]:
    source = load_source(config.dataset, config.max_samples)
    if not source.rows:
        detail = f" ({source.bad[0]})" if source.bad else ""
        raise DataError(f"dataset {config.dataset}: no rows found{detail}")
    try:
        fmt = detect_format(source.rows, source.meta) if config.dataset_format == "auto" else config.dataset_format
    except RowError as exc:
        raise DataError(f"dataset {config.dataset}: {exc}") from exc
    if config.method == "pt" and fmt in ("alpaca", "sharegpt", "openai") and config.dataset_format == "auto":
        keys = set().union(*(r.data for r in source.rows[:20]))
        if "text" in keys:
            fmt = "text"
    allowed = METHOD_FORMATS[config.method]
    if fmt not in allowed:
        need = {"dpo": "pairs with chosen and rejected answers", "sft": "conversations or instruction/output rows",
                "pt": "text"}[config.method]
        raise DataError(f"dataset {config.dataset} is in {fmt} format, but method {config.method} needs {need} "
                        f"({' or '.join(allowed)}). Pick a matching dataset or change the method.")
    normalized = normalize(source.rows, source.meta, fmt)
    bad = source.bad + normalized.bad
    report = DataReport(config.dataset, fmt, rows=len(source.rows) + len(source.bad), usable=len(normalized.samples),
                        bad=bad[:MAX_BAD_SHOWN], bad_count=len(bad))
    if not normalized.samples:
        raise DataError("every row of the dataset is unusable, so nothing was trained. First problems:\n  "
                        + "\n  ".join(bad[:5]))
    return normalized, report


def split(items: list[Any], val_size: float, seed: int) -> tuple[list[Any], list[Any]]:
    if val_size <= 0 or len(items) < 2:
        return items, []
    n_val = int(val_size) if val_size >= 1 else max(1, round(len(items) * val_size))
    n_val = min(n_val, len(items) - 1)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    val_idx = set(order[:n_val])
    return [x for i, x in enumerate(items) if i not in val_idx], [items[i] for i in sorted(val_idx)]


def encode_samples(tok: Any, normalized: Normalized, report: DataReport, config: TrainConfig
                   ) -> tuple[list[Any], list[Any]]:
    """Model-ready train and validation items: Encoded examples, or TRL preference records for DPO."""
    stats = EncodeStats()
    items: list[Any] = []
    bad: list[str] = []
    for sample, origin in zip(normalized.samples, normalized.origins, strict=True):
        try:
            if isinstance(sample, Preference):
                items.append(preference_record(sample))
            elif isinstance(sample, PlainText):
                items += encode_text(tok, sample, config.max_seq_length, stats)
            elif isinstance(sample, Conversation):
                if config.method == "pt":
                    text = "\n\n".join(m["content"] for m in sample.messages)
                    items += encode_text(tok, PlainText(text), config.max_seq_length, stats)
                else:
                    items += encode_conversation(tok, sample, config.max_seq_length, config.train_on_prompt, stats)
        except RowError as exc:
            bad.append(f"{origin}: {exc}")
    report.bad += bad[: max(0, MAX_BAD_SHOWN - len(report.bad))]
    report.bad_count += len(bad)
    report.usable -= len(bad)
    report.truncated, report.too_long = stats.truncated, stats.too_long
    report.tokens, report.trained_tokens = stats.tokens, stats.trained_tokens
    if not items:
        reason = (f"every example is longer than max_seq_length={config.max_seq_length} before its answer starts"
                  if stats.too_long else "no row could be rendered")
        raise DataError(f"dataset {config.dataset}: nothing to train on: {reason}."
                        + (f" First problem: {bad[0]}" if bad else ""))
    train, val = split(items, config.val_size, config.seed)
    report.examples, report.train_examples, report.val_examples = len(items), len(train), len(val)
    return train, val
