"""A sample as the trainer sees it: the template-rendered tokens, which of them carry loss, and what
a max length cuts. Built from the training encoder and collator themselves (`conversation_examples`,
`fit`, the labels the collator pads), never from a second rendering."""

from __future__ import annotations

import json
from typing import Any

from engine.data.encode import IGNORE, Encoded, EncodeStats, LossMask, fit
from engine.data.formats import CONVERTERS, Conversation, PlainText, Preference
from engine.data.lengths import sample_examples
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError

RAW_LIMIT = 6000
# kinds of token: trained (carries loss), masked (context only), cut (past max_len, never seen)
TRAINED, MASKED, CUT = "trained", "masked", "cut"


def token_pieces(tok: Any, ids: list[int], kinds: list[str]) -> list[tuple[str, str]]:
    """(text, kind) runs. Tokens that split a character (common for Chinese in byte-level BPE) are
    decoded together so no replacement character appears."""
    out: list[tuple[str, str]] = []
    buffer: list[int] = []
    kind = ""
    for token, k in zip(ids, kinds, strict=True):
        if not buffer:
            kind = k
        buffer.append(token)
        text = tok.decode(buffer, skip_special_tokens=False)
        if text.endswith("\ufffd") and len(buffer) < 4:
            continue
        out.append((text, kind))
        buffer = []
    if buffer:
        out.append((tok.decode(buffer, skip_special_tokens=False), kind))
    return out


def example_view(tok: Any, example: Encoded, max_len: int) -> dict[str, Any]:
    """One example: kinds per token exactly as the collator labels the truncated example."""
    stats = EncodeStats()
    fitted = fit(example, max_len, stats)
    kinds = [CUT] * len(example)
    trained_count = 0
    if fitted:
        labels = fitted[0].labels  # what the collator puts in a row of its own (without torch: the page loads it)
        for i, label in enumerate(labels):
            # the first token is never a target: the model predicts token i from the tokens before it
            kinds[i] = TRAINED if label != IGNORE and i > 0 else MASKED
        trained_count = sum(1 for k in kinds if k == TRAINED)
    return {"ids": example.input_ids, "kinds": kinds, "pieces": token_pieces(tok, example.input_ids, kinds),
            "length": len(example), "trained": trained_count, "truncated": bool(stats.truncated),
            "dropped": not fitted,
            "note": ("prompt alone exceeds max length: this example is dropped" if stats.too_long
                     else "no trained token: this example is skipped" if not fitted else "")}


def preview_rows(tok: Any, rows: list[Row | str], meta: SourceMeta, fmt: str, max_len: int,
                 mask: LossMask = LossMask(), first_number: int = 0) -> list[dict[str, Any]]:
    convert = CONVERTERS[fmt]
    out: list[dict[str, Any]] = []
    samples: list[Any] = []
    for n, item in enumerate(rows):
        entry: dict[str, Any] = {"index": first_number + n, "examples": [], "error": None}
        if isinstance(item, str):
            entry.update(where=item.partition(": ")[0], raw="", error=item.partition(": ")[2])
            _keep_message(entry, getattr(item, "text", None))
        else:
            raw = json.dumps(item.data, ensure_ascii=False, indent=1, default=str)
            entry.update(where=item.where, raw=raw[:RAW_LIMIT] + ("…" if len(raw) > RAW_LIMIT else ""),
                         split=item.split)
            try:
                sample = convert(item.data, meta)
                samples.append((entry, sample))
                if isinstance(sample, Conversation) and sample.label is not None:
                    entry["label"] = sample.label
            except RowError as exc:
                entry["error"] = str(exc)
                _keep_message(entry, exc.text)
        out.append(entry)
    if tok is not None and samples:
        encoded = sample_examples(tok, [s for _, s in samples], mask)
        for (entry, sample), examples in zip(samples, encoded, strict=True):
            if isinstance(examples, RowError):
                entry["error"] = str(examples)
                _keep_message(entry, examples.text)
                continue
            if isinstance(sample, PlainText):
                # pre-training text is cut into max_len chunks, all trained
                ids = examples[0].input_ids if examples else []
                chunks = [Encoded(ids[i:i + max_len], ids[i:i + max_len]) for i in range(0, len(ids), max_len)]
                entry["examples"] = [example_view(tok, c, max_len) for c in chunks if len(c) > 1]
            else:
                entry["examples"] = [example_view(tok, e, max_len) for e in examples]
            if isinstance(sample, Preference):
                for view, side in zip(entry["examples"], ("chosen", "rejected"), strict=False):
                    view["side"] = side
    return out


def _keep_message(entry: dict[str, Any], text: Any) -> None:
    """`error` stays English (API, CLI); `error_message` is the same reason, rendered in the reader's language."""
    if text is not None and hasattr(text, "to_dict"):
        entry["error_message"] = text.to_dict()
