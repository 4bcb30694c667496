"""Recognising dataset formats and normalising rows into conversations, preference pairs or text.

Formats: alpaca (instruction/input/output), sharegpt (from/value turns, LLaMA-Factory tags),
OpenAI messages (role/content, content as string or text parts), pairwise preference
(chosen/rejected) and plain text. A row that does not fit raises RowError naming the reason;
the caller records it with the row's file and number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.data.sources import Row, SourceMeta

FORMATS = ("alpaca", "sharegpt", "openai", "pairwise", "text")

ROLE_ALIASES = {
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "model": "assistant", "bot": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool", "tool": "tool", "function": "tool", "ipython": "tool",
}


class RowError(ValueError):
    pass


@dataclass
class Conversation:
    messages: list[dict[str, str]]
    tools: list[Any] | None = None


@dataclass
class Preference:
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    tools: list[Any] | None = None


@dataclass
class PlainText:
    text: str


Sample = Conversation | Preference | PlainText


@dataclass
class Normalized:
    format: str
    samples: list[Sample] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def detect_format(rows: list[Row], meta: SourceMeta) -> str:
    if meta.ranking:
        return "pairwise"
    keys: set[str] = set()
    for row in rows[:20]:
        keys |= set(row.data)
    cols = meta.columns
    if {"chosen", "rejected"} <= keys or {cols.get("chosen"), cols.get("rejected")} <= keys - {None}:
        return "pairwise"
    if meta.formatting == "sharegpt":
        return "sharegpt"
    if meta.formatting == "alpaca" and (cols or {"instruction", "output"} & keys):
        return "alpaca"
    if "messages" in keys or "conversations" in keys:
        sample = next((r.data.get("messages") or r.data.get("conversations") for r in rows
                       if isinstance(r.data.get("messages") or r.data.get("conversations"), list)), None)
        first = sample[0] if sample else {}
        return "sharegpt" if isinstance(first, dict) and "from" in first else "openai"
    if {"instruction", "output"} & keys:
        return "alpaca"
    if "text" in keys:
        return "text"
    found = ", ".join(sorted(keys)[:8]) or "no fields"
    raise RowError(
        f"cannot tell the dataset format from its fields ({found}). Expected instruction/output (alpaca), "
        "conversations (sharegpt), messages (openai), chosen/rejected (pairwise) or text; or set dataset_format.")


def normalize(rows: list[Row], meta: SourceMeta, fmt: str) -> Normalized:
    convert = {"alpaca": _alpaca, "sharegpt": _chat, "openai": _chat, "pairwise": _pairwise, "text": _text}[fmt]
    out = Normalized(fmt)
    for row in rows:
        try:
            out.samples.append(convert(row.data, meta))
            out.origins.append(row.where)
        except RowError as exc:
            out.bad.append(f"{row.where}: {exc}")
    return out


def _col(meta: SourceMeta, key: str, default: str) -> str:
    return meta.columns.get(key, default)


def _text_of(value: Any, what: str) -> str:
    """Message content as a string; OpenAI-style lists of text parts are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise RowError(f"{what} has a '{kind}' part; only text parts are supported")
        return "".join(parts)
    if value is None:
        raise RowError(f"{what} is missing")
    raise RowError(f"{what} must be text, got {type(value).__name__}")


def _tools(data: dict[str, Any], meta: SourceMeta) -> list[Any] | None:
    raw = data.get(_col(meta, "tools", "tools"))
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RowError(f"tools is not valid JSON ({exc.msg})") from exc
    return raw if isinstance(raw, list) else [raw]


def _alpaca(data: dict[str, Any], meta: SourceMeta) -> Conversation:
    instruction = data.get(_col(meta, "prompt", "instruction"))
    query = data.get(_col(meta, "query", "input")) or ""
    response = data.get(_col(meta, "response", "output"))
    if not isinstance(instruction, str) or not (instruction.strip() or str(query).strip()):
        raise RowError("instruction is empty or missing")
    if not isinstance(response, str) or not response.strip():
        raise RowError("output is empty or missing")
    messages: list[dict[str, str]] = []
    system = data.get(_col(meta, "system", "system"))
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    history = data.get(_col(meta, "history", "history")) or []
    if not isinstance(history, list):
        raise RowError("history must be a list of [question, answer] pairs")
    for i, turn in enumerate(history):
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise RowError(f"history[{i}] must be a [question, answer] pair of strings")
        messages += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
    prompt = "\n".join(p for p in (instruction, str(query)) if p.strip())
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return Conversation(messages, _tools(data, meta))


def _turns(raw: Any, meta: SourceMeta, what: str) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise RowError(f"{what} must be a non-empty list of turns")
    tags = meta.tags
    role_key = tags.get("role_tag")
    content_key = tags.get("content_tag")
    # LLaMA-Factory lets a dataset rename the role values themselves (e.g. user_tag: "human")
    renamed = {tags[k]: role for k, role in (("user_tag", "user"), ("assistant_tag", "assistant"),
                                             ("observation_tag", "tool"), ("function_tag", "assistant"),
                                             ("system_tag", "system")) if k in tags}
    turns = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise RowError(f"{what}[{i}] must be an object, got {type(turn).__name__}")
        role = turn.get(role_key) if role_key else turn.get("role", turn.get("from"))
        if not isinstance(role, str):
            raise RowError(f"{what}[{i}] has no role (expected 'role' or 'from')")
        norm = renamed.get(role) or ROLE_ALIASES.get(role.lower())
        if norm is None:
            raise RowError(f"{what}[{i}] has unknown role '{role}'")
        content = turn.get(content_key) if content_key else turn.get("content", turn.get("value"))
        if content is None and turn.get("tool_calls"):
            content = json.dumps(turn["tool_calls"], ensure_ascii=False)
        turns.append({"role": norm, "content": _text_of(content, f"{what}[{i}] content")})
    return turns


def _chat(data: dict[str, Any], meta: SourceMeta) -> Conversation:
    key = _col(meta, "messages", "messages" if "messages" in data else "conversations")
    messages = _turns(data.get(key), meta, key)
    system = data.get(_col(meta, "system", "system"))
    if isinstance(system, str) and system.strip() and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    if not any(m["role"] == "assistant" and m["content"].strip() for m in messages):
        raise RowError("no assistant turn with text: nothing to learn from")
    while messages[-1]["role"] != "assistant":
        messages.pop()  # trailing user turns have no answer to train on
    return Conversation(messages, _tools(data, meta))


def _answer(value: Any, what: str, meta: SourceMeta) -> str:
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        turns = _turns(value, meta, what)
        value = turns[-1]["content"]
    text = _text_of(value, what)
    if not text.strip():
        raise RowError(f"{what} is empty")
    return text


def _pairwise(data: dict[str, Any], meta: SourceMeta) -> Preference:
    chosen = _answer(data.get(_col(meta, "chosen", "chosen")), "chosen", meta)
    rejected = _answer(data.get(_col(meta, "rejected", "rejected")), "rejected", meta)
    conv_key = _col(meta, "messages", next((k for k in ("conversations", "messages") if k in data), "prompt"))
    raw = data.get(conv_key)
    if isinstance(raw, list):
        prompt = _turns(raw, meta, conv_key)
    elif isinstance(raw, str) and raw.strip():
        prompt = [{"role": "user", "content": raw}]
    elif isinstance(data.get("instruction"), str) and data["instruction"].strip():
        text = "\n".join(p for p in (data["instruction"], data.get("input") or "") if p.strip())
        prompt = [{"role": "user", "content": text}]
    else:
        raise RowError("no prompt: expected prompt, conversations, messages or instruction")
    if prompt[-1]["role"] == "assistant":
        raise RowError("the prompt ends with an assistant turn; the last turn must be the user's")
    if chosen == rejected:
        raise RowError("chosen and rejected are identical: nothing to prefer")
    return Preference(prompt, chosen, rejected, _tools(data, meta))


def _text(data: dict[str, Any], meta: SourceMeta) -> PlainText:
    value = data.get(_col(meta, "prompt", "text"))
    if not isinstance(value, str) or not value.strip():
        raise RowError("text is empty or missing")
    return PlainText(value)
