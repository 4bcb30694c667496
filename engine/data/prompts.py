"""Prompts for GRPO: any chat format TuneDesk reads, cut at the last user turn.

What the model answered in the data (alpaca's output, the assistant turn after the prompt) or an
explicit answer column becomes the row's reference, which the answer_match reward compares with.
Other simple columns (a label, a category) travel along for a user's own reward functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.data.formats import Message, _turns
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError
from engine.text.message import say

PROMPT_KEYS = ("prompt", "question", "problem", "query")
CHAT_KEYS = ("messages", "conversations")
REFERENCE_KEYS = ("reference", "answer", "solution", "ground_truth", "final_answer", "output", "response")
RESERVED = {"prompt", "reference", "completion"}


@dataclass
class PromptSample:
    messages: list[Message]
    reference: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _reference_of(data: dict[str, Any], meta: SourceMeta) -> str | None:
    keys = [meta.columns[k] for k in ("response",) if k in meta.columns] + list(REFERENCE_KEYS)
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _cut_at_last_user(turns: list[Message], what: str) -> tuple[list[Message], str | None]:
    last_user = max((i for i, m in enumerate(turns) if m["role"] == "user"), default=None)
    if last_user is None:
        raise RowError(say("row.prompt_no_user", what=what))
    after = next((m["content"] for m in turns[last_user + 1:] if m["role"] == "assistant" and m["content"].strip()),
                 None)
    return turns[:last_user + 1], after


def prompt_sample(data: dict[str, Any], meta: SourceMeta) -> PromptSample:
    reference = _reference_of(data, meta)
    chat_key = meta.columns.get("messages") or next((k for k in CHAT_KEYS if k in data), None)
    prompt_key = meta.columns.get("prompt") or next((k for k in PROMPT_KEYS if k in data), None)
    if prompt_key is None and isinstance(data.get("instruction"), str):
        prompt_key = "instruction"
    raw = data.get(prompt_key) if prompt_key else None
    if isinstance(raw, list) or (raw is None and chat_key):
        key = prompt_key if isinstance(raw, list) else chat_key
        messages, answered = _cut_at_last_user(_turns(data.get(key), meta, key), key)
        reference = reference or answered
    elif isinstance(raw, str) and raw.strip():
        extra = data.get(meta.columns.get("query", "input")) if prompt_key == "instruction" or "query" in \
            meta.columns else None
        text = raw if not (isinstance(extra, str) and extra.strip()) else f"{raw}\n{extra}"
        messages = [{"role": "user", "content": text}]
    else:
        raise RowError(say("row.prompt_missing"))
    system = data.get(meta.columns.get("system", "system"))
    if isinstance(system, str) and system.strip() and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    used = {prompt_key, chat_key, "system", "input", *REFERENCE_KEYS}
    columns = {k: str(v) for k, v in data.items()
               if k not in used and k not in RESERVED and isinstance(v, (str, int, float, bool))}
    return PromptSample(messages, reference, columns)


def read_prompts(rows: list[Row], meta: SourceMeta, need_reference: bool) -> tuple[list[PromptSample], list[str],
                                                                                     list[str], list[str]]:
    """(samples, their origins, their splits, bad rows with reasons)."""
    samples, origins, splits, bad = [], [], [], []
    for row in rows:
        try:
            sample = prompt_sample(row.data, meta)
            if need_reference and sample.reference is None:
                raise RowError(say("row.no_reference", fields=", ".join(REFERENCE_KEYS)))
        except RowError as exc:
            bad.append(f"{row.where}: {exc}")
            continue
        samples.append(sample)
        origins.append(row.where)
        splits.append(row.split)
    return samples, origins, splits, bad
