"""Recognising dataset formats and normalising rows into conversations, preference pairs or text.

Formats: alpaca (instruction/input/output), sharegpt (from/value turns, LLaMA-Factory tags),
OpenAI messages (role/content, content as a string or a list of parts), pairwise preference
(chosen/rejected), KTO (a conversation plus a boolean label) and plain text. A row that does not fit
raises RowError naming the field and the reason; the caller records it with the row's file and number.

A normalised message is a dict with `role` and `content` (text), and where the data has them
`reasoning_content` (thinking, rendered the way the model's template expects), `tool_calls`
(OpenAI-shaped) and `loss_weight` (0 keeps that answer out of the loss).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError
from engine.text.message import say

FORMATS = ("alpaca", "sharegpt", "openai", "pairwise", "kto", "text")
TEXT_KEYS = ("text", "value", "content")
REASONING_PARTS = ("reasoning", "thinking", "think", "reasoning_content")
TOOL_CALL_PARTS = ("tool_call", "tool_use", "function_call", "function")
KTO_LABEL_KEYS = ("label", "kto_tag")

ROLE_ALIASES = {
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "model": "assistant", "bot": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool", "tool": "tool", "function": "tool", "ipython": "tool",
}


Message = dict[str, Any]


@dataclass
class Conversation:
    messages: list[Message]
    tools: list[Any] | None = None
    label: bool | None = None  # KTO: is the final answer desirable?


@dataclass
class Preference:
    prompt: list[Message]
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
    splits: list[str] = field(default_factory=list)  # train | valid | test, per sample
    files: list[Any] = field(default_factory=list)  # the files read, for content-keyed caches
    bad: list[str] = field(default_factory=list)


def normalize(rows: list[Row], meta: SourceMeta, fmt: str) -> Normalized:
    convert = CONVERTERS[fmt]
    out = Normalized(fmt)
    for row in rows:
        try:
            out.samples.append(convert(row.data, meta))
            out.origins.append(row.where)
            out.splits.append(row.split)
        except RowError as exc:
            out.bad.append(f"{row.where}: {exc}")
    return out


def _col(meta: SourceMeta, key: str, default: str) -> str:
    return meta.columns.get(key, default)


def _part_text(part: dict[str, Any]) -> str | None:
    return next((part[k] for k in TEXT_KEYS if isinstance(part.get(k), str)), None)


def _tool_call(part: dict[str, Any], what: str) -> dict[str, Any]:
    """A tool-call part in any common spelling, as an OpenAI tool call."""
    body = part.get("function") if isinstance(part.get("function"), dict) else part
    name = body.get("name")
    args = body.get("arguments", body.get("input", body.get("parameters", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise RowError(say("row.tool_args_json", what=what, name=name, detail=exc.msg)) from exc
    if not isinstance(name, str) or not name:
        raise RowError(say("row.tool_no_name", what=what))
    return {"type": "function", "function": {"name": name, "arguments": args}}


def _content(value: Any, what: str) -> tuple[str, str, list[dict[str, Any]]]:
    """(text, reasoning, tool calls) of a message's content: a string, or a list of typed parts."""
    if isinstance(value, str):
        return value, "", []
    if value is None:
        raise RowError(say("row.missing", what=what))
    if not isinstance(value, list):
        raise RowError(say("row.not_text_or_parts", what=what, got=type(value).__name__))
    texts, thoughts, calls = [], [], []
    for n, part in enumerate(value):
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise RowError(say("row.part_not_object", what=what, n=n, got=type(part).__name__))
        kind = str(part.get("type", "text")).lower()
        if kind in ("text", "input_text", "output_text"):
            text = _part_text(part)
            if text is None:
                raise RowError(say("row.text_part_empty", what=what, n=n))
            texts.append(text)
        elif kind in REASONING_PARTS:
            text = _part_text(part) or next((part[k] for k in REASONING_PARTS if isinstance(part.get(k), str)), None)
            if text is None:
                raise RowError(say("row.part_empty", what=what, n=n, kind=kind))
            thoughts.append(text)
        elif kind in TOOL_CALL_PARTS:
            calls.append(_tool_call(part, f"{what}[{n}]"))
        else:
            raise RowError(say("row.part_unsupported", what=what, n=n, kind=kind))
    return "".join(texts), "\n".join(thoughts), calls


def _text_of(value: Any, what: str) -> str:
    text, reasoning, calls = _content(value, what)
    if reasoning or calls:
        raise RowError(say("row.plain_text_only", what=what))
    return text


def _tools(data: dict[str, Any], meta: SourceMeta) -> list[Any] | None:
    raw = data.get(_col(meta, "tools", "tools"))
    if raw in (None, "", []):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RowError(say("row.tools_json", detail=exc.msg, column=exc.colno)) from exc
    return raw if isinstance(raw, list) else [raw]


def _alpaca(data: dict[str, Any], meta: SourceMeta) -> Conversation:
    instruction = data.get(_col(meta, "prompt", "instruction"))
    query = data.get(_col(meta, "query", "input")) or ""
    response = data.get(_col(meta, "response", "output"))
    if instruction is None and str(query).strip():
        instruction = ""
    if not isinstance(instruction, str) or not (instruction.strip() or str(query).strip()):
        raise RowError(say("row.instruction_missing", field=_col(meta, "prompt", "instruction")))
    if not isinstance(response, str) or not response.strip():
        raise RowError(say("row.output_missing", field=_col(meta, "response", "output")))
    messages: list[Message] = []
    system = data.get(_col(meta, "system", "system"))
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    history = data.get(_col(meta, "history", "history")) or []
    if not isinstance(history, list):
        raise RowError(say("row.history_not_pairs"))
    for i, turn in enumerate(history):
        if not (isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(t, str) for t in turn)):
            raise RowError(say("row.history_pair", i=i))
        messages += [{"role": "user", "content": turn[0]}, {"role": "assistant", "content": turn[1]}]
    prompt = "\n".join(p for p in (instruction, str(query)) if p.strip())
    messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return Conversation(messages, _tools(data, meta))


def _turns(raw: Any, meta: SourceMeta, what: str) -> list[Message]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)  # csv and parquet exports often hold the turns as a JSON string
        except json.JSONDecodeError as exc:
            raise RowError(say("row.turns_json", what=what, detail=exc.msg)) from exc
    if not isinstance(raw, list) or not raw:
        raise RowError(say("row.turns_empty", what=what))
    tags = meta.tags
    role_key = tags.get("role_tag")
    content_key = tags.get("content_tag")
    # LLaMA-Factory lets a dataset rename the role values themselves (e.g. user_tag: "human")
    renamed = {tags[k]: role for k, role in (("user_tag", "user"), ("assistant_tag", "assistant"),
                                             ("observation_tag", "tool"), ("function_tag", "function_call"),
                                             ("system_tag", "system")) if k in tags}
    turns: list[Message] = []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise RowError(say("row.turn_not_object", what=what, i=i, got=type(turn).__name__))
        role = turn.get(role_key) if role_key else turn.get("role", turn.get("from"))
        if not isinstance(role, str):
            raise RowError(say("row.turn_no_role", what=what, i=i))
        raw_role = renamed.get(role) or role.lower()
        norm = ROLE_ALIASES.get(raw_role)
        if norm is None:
            raise RowError(say("row.turn_unknown_role", what=what, i=i, role=role))
        content = turn.get(content_key) if content_key else turn.get("content", turn.get("value"))
        text, reasoning, calls = _content(content if content is not None or not turn.get("tool_calls") else "",
                                          f"{what}[{i}] content")
        message: Message = {"role": norm, "content": text}
        reasoning = reasoning or turn.get("reasoning_content") or turn.get("reasoning") or ""
        if isinstance(reasoning, str) and reasoning.strip():
            message["reasoning_content"] = reasoning
        calls += [_tool_call(c, f"{what}[{i}] tool_calls") for c in (turn.get("tool_calls") or [])
                  if isinstance(c, dict)]
        if raw_role == "function_call" and not calls:  # sharegpt keeps the call as JSON text
            calls = [_function_call_text(text, f"{what}[{i}]")]
            message["content"] = ""
        if calls:
            message["tool_calls"] = calls
        if "loss_weight" in turn:
            weight = turn["loss_weight"]
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight <= 1:
                raise RowError(say("row.loss_weight", what=what, i=i, value=repr(weight)))
            message["loss_weight"] = float(weight)
        turns.append(message)
    return turns


def _function_call_text(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RowError(say("row.function_call_json", what=what, detail=exc.msg, column=exc.colno)) from exc
    if isinstance(value, list):  # several parallel calls: keep the first shape, all calls
        if not value:
            raise RowError(say("row.function_call_empty", what=what))
        value = value[0]
    if not isinstance(value, dict):
        raise RowError(say("row.function_call_shape", what=what))
    return _tool_call(value, what)


def _check_order(messages: list[Message]) -> None:
    for i, m in enumerate(messages):
        if m["role"] == "system" and i > 0:
            raise RowError(say("row.system_late", i=i))
        if m["role"] == "tool" and (i == 0 or messages[i - 1]["role"] not in ("assistant", "tool")):
            raise RowError(say("row.tool_orphan", i=i))


def _chat(data: dict[str, Any], meta: SourceMeta) -> Conversation:
    key = _col(meta, "messages", "messages" if "messages" in data else "conversations")
    messages = _turns(data.get(key), meta, key)
    system = data.get(_col(meta, "system", "system"))
    if isinstance(system, str) and system.strip() and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    _check_order(messages)
    if not any(m["role"] == "assistant" and (m["content"].strip() or m.get("tool_calls")) for m in messages):
        raise RowError(say("row.no_answer", field=key))
    while messages[-1]["role"] != "assistant":
        messages.pop()  # trailing user turns have no answer to train on
    return Conversation(messages, _tools(data, meta))


def _kto(data: dict[str, Any], meta: SourceMeta) -> Conversation:
    key = meta.columns.get("kto_tag") or next((k for k in KTO_LABEL_KEYS if k in data), "label")
    raw = data.get(key)
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0"):
        raw = raw.strip().lower() in ("true", "1")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in (0, 1):
        raw = bool(raw)
    if not isinstance(raw, bool):
        raise RowError(say("row.kto_label", field=key, value=repr(raw)))
    conv = _chat(data, meta) if any(k in data for k in ("messages", "conversations", meta.columns.get("messages"))) \
        else _alpaca(data, meta)
    conv.label = raw
    return conv


def _answer(value: Any, what: str, meta: SourceMeta) -> str:
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and value and isinstance(value[0], dict) and ("role" in value[0] or "from" in value[0]):
        turns = _turns(value, meta, what)
        value = turns[-1]["content"]
    text = _text_of(value, what)
    if not text.strip():
        raise RowError(say("row.field_empty", field=what))
    return text


def _pairwise(data: dict[str, Any], meta: SourceMeta) -> Preference:
    if "chosen_messages" in data or "rejected_messages" in data:
        return _pairwise_messages(data, meta)
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
        raise RowError(say("row.no_prompt"))
    if prompt[-1]["role"] == "assistant":
        raise RowError(say("row.prompt_ends_assistant"))
    if chosen == rejected:
        raise RowError(say("row.same_answers"))
    return Preference(prompt, chosen, rejected, _tools(data, meta))


def _pairwise_messages(data: dict[str, Any], meta: SourceMeta) -> Preference:
    """LLaMA-Factory's v1 layout: `chosen_messages` and `rejected_messages`, each the whole conversation
    (content parts, a loss_weight per message). What both share before their last turn is the prompt; each
    one's last turn, the assistant's, is its answer."""
    sides = [_turns(data.get(key), meta, key) for key in ("chosen_messages", "rejected_messages")]
    for key, turns in zip(("chosen_messages", "rejected_messages"), sides, strict=True):
        if turns[-1]["role"] != "assistant" or not turns[-1]["content"].strip():
            raise RowError(say("row.pair_no_answer", field=key))
    prompts = [[{k: v for k, v in m.items() if k != "loss_weight"} for m in turns[:-1]] for turns in sides]
    if prompts[0] != prompts[1]:
        raise RowError(say("row.pair_prompts_differ"))
    if not prompts[0] or prompts[0][-1]["role"] == "assistant":
        raise RowError(say("row.pair_prompt_ends"))
    chosen, rejected = sides[0][-1]["content"], sides[1][-1]["content"]
    if chosen == rejected:
        raise RowError(say("row.same_answers"))
    return Preference(prompts[0], chosen, rejected, _tools(data, meta))


def _text(data: dict[str, Any], meta: SourceMeta) -> PlainText:
    key = _col(meta, "prompt", "text")
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RowError(say("row.text_missing", field=key))
    return PlainText(value)


CONVERTERS = {"alpaca": _alpaca, "sharegpt": _chat, "openai": _chat, "pairwise": _pairwise, "kto": _kto,
              "text": _text}
