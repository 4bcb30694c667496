"""From a TrainConfig's dataset to train/validation examples and a report of what happened.

`read_samples` runs before any model is loaded, so a dataset whose every row is bad fails fast.
`encode_samples` needs the tokenizer and produces model-ready examples; for SFT and pre-training the
result is cached on disk (keyed by the data's content, the tokenizer and the settings), so a second
run on the same data skips encoding.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.config.datasets import dataset_parts, mix_weights
from engine.config.train_config import TrainConfig
from engine.data.detect import detect_format, refuse_media
from engine.data.encode import EncodeStats, LossMask, encode_conversations, encode_texts, kto_record, preference_record
from engine.data.encode_cache import EncodeCache
from engine.data.formats import KTO_LABEL_KEYS, Conversation, Normalized, PlainText, Preference, normalize
from engine.data.mix import mix_samples
from engine.data.prompts import PromptSample, read_prompts
from engine.data.sources import load_source
from engine.errors import DataError, RowError
from engine.rewards.spec import parse_spec
from engine.text.message import say

METHOD_FORMATS = {"sft": ("alpaca", "sharegpt", "openai", "kto"), "dpo": ("pairwise",), "orpo": ("pairwise",),
                  "simpo": ("pairwise",), "kto": ("kto",), "pt": ("text", "alpaca", "sharegpt", "openai", "kto")}
METHOD_NEEDS = {"dpo": "pairs with chosen and rejected answers", "orpo": "pairs with chosen and rejected answers",
                "simpo": "pairs with chosen and rejected answers",
                "kto": "conversations whose last answer has a true/false label (a 'label' column, or kto_tag in "
                       "dataset_info.json)",
                "sft": "conversations or instruction/output rows", "pt": "text"}
MAX_BAD_SHOWN = 20
BATCH = 512  # conversations rendered per tokenizer call


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
    test_examples: int = 0
    undesirable: int = 0  # KTO rows labelled false, which SFT does not learn from
    tokens: int = 0
    trained_tokens: int = 0
    cached: bool = False
    mix: list[dict[str, Any]] = field(default_factory=list)  # several datasets: each one's rows and share

    def lines(self) -> list[str]:
        out = [f"dataset {self.dataset}: format {self.format}, {self.rows} rows, {self.usable} usable, "
               f"{self.bad_count} bad"]
        for part in self.mix:
            repeated = f", each row {part['used'] / part['rows']:.1f}× on average" if part["used"] > part["rows"] \
                else ""
            out.append(f"  mix: {part['dataset']} {part['share']:.1%} of the training rows ({part['used']} of its "
                       f"{part['rows']}{repeated})")
        out += [f"  bad: {b}" for b in self.bad]
        if self.bad_count > len(self.bad):
            out.append(f"  … and {self.bad_count - len(self.bad)} more bad rows")
        if self.undesirable:
            out.append(f"  {self.undesirable} rows labelled undesirable (label false) left out: SFT learns only "
                       "from desirable answers")
        if self.truncated or self.too_long:
            out.append(f"  {self.truncated} examples truncated to max_seq_length, {self.too_long} dropped because "
                       f"their prompt alone exceeds it (raise max_seq_length to keep them)")
        if self.test_examples:
            out.append(f"  {self.test_examples} test examples kept out of training")
        out.append(f"  {self.train_examples} train / {self.val_examples} validation examples, {self.tokens} tokens "
                   f"({self.trained_tokens} trained)" + (" — encoded earlier, read from the cache" if self.cached
                                                        else ""))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_samples(config: TrainConfig) -> tuple[Normalized, DataReport]:
    parts = dataset_parts(config.dataset)
    if len(parts) < 2:
        return _read_one(config, config.dataset)
    read = [(name, *_read_one(config, name)) for name in parts]
    normalized, figures = mix_samples([(name, n) for name, n, _ in read], mix_weights(config.mix, len(parts)),
                                      config.seed, config.mix_strategy)
    bad = [f"{name}: {b}" for name, _, r in read for b in r.bad]
    report = DataReport(config.dataset, normalized.format, rows=sum(r.rows for _, _, r in read),
                        usable=len(normalized.samples), bad=bad[:MAX_BAD_SHOWN],
                        bad_count=sum(r.bad_count for _, _, r in read), mix=figures)
    return normalized, report


def _read_one(config: TrainConfig, dataset: str) -> tuple[Normalized, DataReport]:
    source = load_source(dataset, config.max_samples)
    if not source.rows:
        detail = f" ({source.bad[0]})" if source.bad else ""
        raise DataError(f"dataset {dataset}: no rows found{detail}")
    try:
        refuse_media(source.rows)
    except RowError as exc:
        raise DataError(say("data.in_dataset", dataset=dataset, detail=exc.text)) from exc
    if config.method == "grpo":
        return _read_prompts(config, source, dataset)
    try:
        fmt = detect_format(source.rows, source.meta) if config.dataset_format == "auto" else config.dataset_format
    except RowError as exc:
        raise DataError(say("data.in_dataset", dataset=dataset, detail=exc.text or str(exc))) from exc
    if config.method == "pt" and fmt in ("alpaca", "sharegpt", "openai") and config.dataset_format == "auto":
        keys = set().union(*(r.data for r in source.rows[:20]))
        if "text" in keys:
            fmt = "text"
    if config.method == "kto" and fmt != "kto" and config.dataset_format == "auto" and _has_label_column(source):
        fmt = "kto"  # some labels are not true/false: KTO reads the rows and names each bad one
    allowed = METHOD_FORMATS[config.method]
    if fmt not in allowed:
        need = METHOD_NEEDS[config.method]
        raise DataError(f"dataset {dataset} is in {fmt} format, but method {config.method} needs {need} "
                        f"({' or '.join(allowed)}). Pick a matching dataset or change the method.")
    normalized = normalize(source.rows, source.meta, fmt)
    normalized.files = source.files
    bad = source.bad + normalized.bad
    report = DataReport(dataset, fmt, rows=len(source.rows) + len(source.bad), usable=len(normalized.samples),
                        bad=bad[:MAX_BAD_SHOWN], bad_count=len(bad))
    if not normalized.samples:
        # one line: it becomes the run's reason, shown in the UI and printed by the CLI
        raise DataError(f"every row of dataset {dataset} is unusable, so nothing was trained. "
                        f"First problems: {'; '.join(bad[:3])}")
    return normalized, report


def _has_label_column(source: Any) -> bool:
    keys = {source.meta.columns.get("kto_tag"), *KTO_LABEL_KEYS} - {None}
    return any(keys & set(r.data) for r in source.rows[:50])


def _read_prompts(config: TrainConfig, source: Any, dataset: str) -> tuple[Normalized, DataReport]:
    need_reference = any(name == "answer_match" for name, _ in parse_spec(config.reward_functions))
    samples, origins, splits, bad_rows = read_prompts(source.rows, source.meta, need_reference)
    normalized = Normalized("prompts", list(samples), origins, splits, source.files)
    bad = source.bad + bad_rows
    report = DataReport(dataset, "prompts", rows=len(source.rows) + len(source.bad), usable=len(samples),
                        bad=bad[:MAX_BAD_SHOWN], bad_count=len(bad))
    if not samples:
        raise DataError(f"GRPO needs prompts, and no row of dataset {dataset} gives one. "
                        f"First problems: {'; '.join(bad[:3])}")
    return normalized, report


def _prompt_record(tok: Any, sample: PromptSample, config: TrainConfig, stats: EncodeStats) -> dict[str, Any] | None:
    """TRL's conversational prompt format, or None when the prompt alone exceeds max_seq_length."""
    text = tok.apply_chat_template(sample.messages, tokenize=False, add_generation_prompt=True)
    n = len(tok(text, add_special_tokens=False)["input_ids"])
    stats.tokens += n
    if n > config.max_seq_length:
        stats.too_long += 1
        return None
    return {"prompt": sample.messages, "reference": sample.reference, **sample.columns}


def split(items: list[Any], val_size: float, seed: int) -> tuple[list[Any], list[Any]]:
    if val_size <= 0 or len(items) < 2:
        return items, []
    n_val = int(val_size) if val_size >= 1 else max(1, round(len(items) * val_size))
    n_val = min(n_val, len(items) - 1)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    val_idx = set(order[:n_val])
    return [x for i, x in enumerate(items) if i not in val_idx], [items[i] for i in sorted(val_idx)]


def encode_all(tok: Any, normalized: Normalized, config: TrainConfig, stats: EncodeStats
               ) -> tuple[list[tuple[str, Any]], list[str], int]:
    """(split, item) pairs in data order, the rows that could not be encoded, and KTO rows left out."""
    items: list[tuple[str, Any]] = []
    bad: list[str] = []
    undesirable = 0
    rows = list(zip(normalized.samples, normalized.origins, normalized.splits or ["train"] * len(normalized.samples),
                    strict=True))
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        convs: list[tuple[Conversation, str, str]] = []
        texts: list[tuple[PlainText, str]] = []
        for sample, origin, part in chunk:
            if isinstance(sample, PromptSample):
                record = _prompt_record(tok, sample, config, stats)
                if record is not None:
                    items.append((part, record))
            elif config.method == "kto" and isinstance(sample, Conversation):
                items.append((part, kto_record(sample)))
            elif isinstance(sample, Preference):
                items.append((part, preference_record(sample)))
            elif isinstance(sample, PlainText):
                texts.append((sample, part))
            elif config.method == "pt":
                texts.append((PlainText("\n\n".join(m["content"] for m in sample.messages)), part))
            elif sample.label is False:
                undesirable += 1
            else:
                convs.append((sample, origin, part))
        for sample, part in texts:
            items += [(part, e) for e in encode_texts(tok, [sample], config.max_seq_length, stats)]
        results = encode_conversations(tok, [c for c, _, _ in convs], config.max_seq_length, LossMask.of(config),
                                       stats)
        for (_, origin, part), result in zip(convs, results, strict=True):
            if isinstance(result, RowError):
                bad.append(f"{origin}: {result}")
            else:
                items += [(part, e) for e in result]
    return items, bad, undesirable


def encode_samples(tok: Any, normalized: Normalized, report: DataReport, config: TrainConfig
                   ) -> tuple[list[Any], list[Any]]:
    """Model-ready train and validation items: Encoded examples, or TRL preference records for DPO."""

    cache = EncodeCache.for_run(tok, normalized, config) if config.method in ("sft", "pt") else None
    hit = cache.load() if cache else None
    if hit is not None:
        items, saved = hit
        for key in ("bad", "bad_count", "usable", "truncated", "too_long", "tokens", "trained_tokens", "undesirable"):
            setattr(report, key, saved[key])
        report.cached = True
    else:
        stats = EncodeStats()
        items, bad, undesirable = encode_all(tok, normalized, config, stats)
        report.bad += bad[: max(0, MAX_BAD_SHOWN - len(report.bad))]
        report.bad_count += len(bad)
        report.usable -= len(bad) + undesirable
        report.undesirable = undesirable
        report.truncated, report.too_long = stats.truncated, stats.too_long
        report.tokens, report.trained_tokens = stats.tokens, stats.trained_tokens
        if cache and items:
            cache.save(items, report)
    if not items:
        reason = (f"every example is longer than max_seq_length={config.max_seq_length} before its answer starts"
                  if report.too_long else "no row could be rendered")
        raise DataError(f"dataset {config.dataset}: nothing to train on: {reason}."
                        + (f" First problems: {'; '.join(report.bad[:3])}" if report.bad else ""))
    by_split: dict[str, list[Any]] = {"train": [], "valid": [], "test": []}
    for part, item in items:
        by_split[part].append(item)
    if by_split["valid"]:  # the data brings its own validation file: it wins over val_size
        train, val = by_split["train"], by_split["valid"]
    else:
        train, val = split(by_split["train"], config.val_size, config.seed)
    report.examples = len(items)
    report.train_examples, report.val_examples, report.test_examples = len(train), len(val), len(by_split["test"])
    if not train:
        raise DataError(f"dataset {config.dataset}: the validation and test files hold every example; nothing is "
                        "left to train on")
    return train, val

