"""Which format a dataset is in, and why: the fields (or dataset_info.json settings) that gave it away."""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.formats import FORMATS, KTO_LABEL_KEYS
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError
from engine.text.message import Joined, say

# LLaMA-Factory's multimodal layouts: a list of files per row, referred to by placeholders in the text
MEDIA_FIELDS = {"images": "data.kind_images", "videos": "data.kind_videos", "audios": "data.kind_audios"}


@dataclass
class Detection:
    format: str
    evidence: list[str]


def detect(rows: list[Row], meta: SourceMeta) -> Detection:
    """The format of a dataset and why: the fields (or dataset_info.json settings) that gave it away."""
    refuse_media(rows)
    keys: set[str] = set()
    for row in rows[:50]:
        keys |= set(row.data)
    cols = meta.columns
    if meta.format in FORMATS:
        return Detection(meta.format, [f"format {meta.format} saved with this dataset's column mapping"])
    if meta.ranking:
        return Detection("pairwise", ["dataset_info.json sets ranking: true"])
    if {"chosen_messages", "rejected_messages"} <= keys:
        return Detection("pairwise", ["fields 'chosen_messages' and 'rejected_messages' hold the whole preferred and "
                                      "rejected conversations (LLaMA-Factory's v1 layout)"])
    pair = [cols.get("chosen", "chosen"), cols.get("rejected", "rejected")]
    if set(pair) <= keys:
        return Detection("pairwise", [f"fields '{pair[0]}' and '{pair[1]}' hold preferred and rejected answers"])
    label = cols.get("kto_tag") or next((k for k in KTO_LABEL_KEYS if k in keys), None)
    chat_key = cols.get("messages") or next((k for k in ("messages", "conversations") if k in keys), None)
    if label and label in keys and (chat_key or {"instruction", "output"} & keys) and _is_bool_column(rows, label):
        return Detection("kto", [f"field '{label}' holds true/false labels beside "
                                 f"'{chat_key or 'instruction/output'}' (KTO: desirable or not)"])
    if meta.formatting == "sharegpt":
        return Detection("sharegpt", ["dataset_info.json sets formatting: sharegpt"])
    if meta.formatting == "openai":
        return Detection("openai", ["dataset_info.json sets formatting: openai"])
    if meta.formatting == "alpaca" and cols.get("prompt") in keys and cols.get("response", "output") not in keys:
        return Detection("text", [f"dataset_info.json maps only prompt → '{cols['prompt']}', with no answer column: "
                                  "plain text for pre-training"])
    if meta.formatting == "alpaca" and (cols or {"instruction", "output"} & keys):
        return Detection("alpaca", ["dataset_info.json sets formatting: alpaca"])
    if chat_key:
        sample = next((r.data.get(chat_key) for r in rows[:50] if isinstance(r.data.get(chat_key), list)
                       and r.data[chat_key]), None)
        first = sample[0] if sample else {}
        if isinstance(first, dict) and "from" in first:
            return Detection("sharegpt", [f"field '{chat_key}' is a list of turns with 'from'/'value'"])
        return Detection("openai", [f"field '{chat_key}' is a list of turns with 'role'/'content'"])
    prompt, query, response = cols.get("prompt", "instruction"), cols.get("query", "input"), cols.get("response",
                                                                                                     "output")
    if response in keys or (prompt in keys and "prompt" not in cols):
        return Detection("alpaca", ["fields " + ", ".join(f"'{k}'" for k in (prompt, query, response) if k in keys)])
    if cols.get("prompt", "text") in keys:
        return Detection("text", [f"field '{cols.get('prompt', 'text')}' holds plain text"])
    found = ", ".join(sorted(keys)[:8]) or "no fields"
    prompt_only = next((k for k in ("prompt", "question", "problem") if k in keys), None)
    grpo = say("data.grpo_hint", field=prompt_only) if prompt_only else ""
    raise RowError(say("data.unknown_format", found=found, grpo=grpo))


def refuse_media(rows: list[Row]) -> None:
    """Rows that carry images, videos or audio are named as such: a text model would train on their placeholders."""
    found = [k for k in MEDIA_FIELDS if any(r.data.get(k) for r in rows[:50])]
    if found:
        kinds = Joined(tuple(say(MEDIA_FIELDS[k]) for k in found), "data.list_sep")
        raise RowError(say("data.media", kinds=kinds, fields=", ".join(f"'{k}'" for k in found)))


def detect_format(rows: list[Row], meta: SourceMeta) -> str:
    return detect(rows, meta).format


def _is_bool_column(rows: list[Row], key: str) -> bool:
    values = [r.data.get(key) for r in rows[:50] if key in r.data]
    return bool(values) and all(isinstance(v, bool) or str(v).lower() in ("true", "false", "0", "1")
                                for v in values)
