"""Which format a dataset is in, and why: the fields (or dataset_info.json settings) that gave it away."""

from __future__ import annotations

from dataclasses import dataclass

from engine.data.formats import FORMATS, KTO_LABEL_KEYS
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError
from engine.text.message import Joined, Text, say

# LLaMA-Factory's multimodal layouts: a list of files per row, referred to by placeholders in the text
MEDIA_FIELDS = {"images": "data.kind_images", "videos": "data.kind_videos", "audios": "data.kind_audios"}


@dataclass
class Detection:
    format: str
    reasons: list[Text]  # rendered in the reader's language; `evidence` is their English text

    @property
    def evidence(self) -> list[str]:
        return [str(r) for r in self.reasons]


def detect(rows: list[Row], meta: SourceMeta) -> Detection:
    """The format of a dataset and why: the fields (or dataset_info.json settings) that gave it away."""
    refuse_media(rows)
    keys: set[str] = set()
    for row in rows[:50]:
        keys |= set(row.data)
    cols = meta.columns
    if meta.format in FORMATS:
        return Detection(meta.format, [say("data.why_saved", fmt=meta.format)])
    if meta.ranking:
        return Detection("pairwise", [say("data.why_ranking")])
    if {"chosen_messages", "rejected_messages"} <= keys:
        return Detection("pairwise", [say("data.why_v1_pairs")])
    pair = [cols.get("chosen", "chosen"), cols.get("rejected", "rejected")]
    if set(pair) <= keys:
        return Detection("pairwise", [say("data.why_pairs", chosen=pair[0], rejected=pair[1])])
    label = cols.get("kto_tag") or next((k for k in KTO_LABEL_KEYS if k in keys), None)
    chat_key = cols.get("messages") or next((k for k in ("messages", "conversations") if k in keys), None)
    if label and label in keys and (chat_key or {"instruction", "output"} & keys) and _is_bool_column(rows, label):
        return Detection("kto", [say("data.why_kto", label=label, chat=chat_key or "instruction/output")])
    if meta.formatting == "sharegpt":
        return Detection("sharegpt", [say("data.why_formatting", formatting="sharegpt")])
    if meta.formatting == "openai":
        return Detection("openai", [say("data.why_formatting", formatting="openai")])
    if meta.formatting == "alpaca" and cols.get("prompt") in keys and cols.get("response", "output") not in keys:
        return Detection("text", [say("data.why_prompt_only", column=cols["prompt"])])
    if meta.formatting == "alpaca" and (cols or {"instruction", "output"} & keys):
        return Detection("alpaca", [say("data.why_formatting", formatting="alpaca")])
    if chat_key:
        sample = next((r.data.get(chat_key) for r in rows[:50] if isinstance(r.data.get(chat_key), list)
                       and r.data[chat_key]), None)
        first = sample[0] if sample else {}
        if isinstance(first, dict) and "from" in first:
            return Detection("sharegpt", [say("data.why_sharegpt", field=chat_key)])
        return Detection("openai", [say("data.why_openai", field=chat_key)])
    prompt, query, response = cols.get("prompt", "instruction"), cols.get("query", "input"), cols.get("response",
                                                                                                     "output")
    if response in keys or (prompt in keys and "prompt" not in cols):
        return Detection("alpaca", [say("data.why_alpaca", fields=", ".join(f"'{k}'" for k in (prompt, query, response)
                                                                               if k in keys))])
    if cols.get("prompt", "text") in keys:
        return Detection("text", [say("data.why_text", field=cols.get("prompt", "text"))])
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
