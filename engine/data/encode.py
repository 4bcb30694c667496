"""Rendering samples through the tokenizer's own chat template into input ids and labels.

Only assistant tokens carry loss unless `train_on_prompt` is set; a turn with `loss_weight` 0 carries
none, nor, with `mask_history`, any assistant turn but the last (`LossMask`). A conversation is rendered
turn by turn: the prompt before each answer comes from `add_generation_prompt=True`, the answer is what
rendering the answer adds to it. Templates that rewrite history (Qwen3 drops earlier reasoning) make a
later prompt stop extending the text so far; such a conversation becomes several examples, each exactly
what the model sees at inference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.data.formats import Conversation, Message, PlainText, Preference
from engine.errors import RowError
from engine.text.message import say

IGNORE = -100

CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeStats:
    truncated: int = 0
    too_long: int = 0
    tokens: int = 0
    trained_tokens: int = 0


def _render(tok: Any, messages: list[Message], tools: list[Any] | None, generation: bool) -> str:
    try:
        return tok.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=generation)
    except Exception as exc:  # jinja raises TemplateError (and templates raise their own exceptions)
        raise RowError(say("row.template_rejected", detail=str(exc))) from exc


def _template_messages(tok: Any, conv: Conversation) -> tuple[list[Message], list[Any] | None]:
    """Messages as this template can render them. A template that knows tools, tool calls or reasoning
    gets them as fields; one that does not gets them written into the text, so nothing is silently lost."""
    template = tok.chat_template or ""
    messages = []
    for m in conv.messages:
        m = {k: v for k, v in m.items() if k != "loss_weight"}
        if m.get("reasoning_content") and "reasoning_content" not in template:
            m["content"] = f"<think>\n{m.pop('reasoning_content')}\n</think>\n\n{m['content']}"
        if m.get("tool_calls") and "tool_calls" not in template:
            calls = "\n".join(json.dumps(c["function"], ensure_ascii=False) for c in m.pop("tool_calls"))
            m["content"] = f"{m['content']}\n{calls}" if m["content"] else calls
        messages.append(m)
    if not conv.tools:
        return messages, None
    if "tools" in template:
        return messages, conv.tools
    schema = "You can call these tools:\n" + json.dumps(conv.tools, ensure_ascii=False)
    if messages[0]["role"] == "system":
        messages[0] = {**messages[0], "content": messages[0]["content"] + "\n\n" + schema}
    else:
        messages.insert(0, {"role": "system", "content": schema})
    return messages, None


@dataclass(frozen=True)
class LossMask:
    """Which tokens carry loss: the assistant's answers (every one, or with `last_turn_only` only the
    conversation's last), and with `train_on_prompt` the prompt's tokens too."""

    train_on_prompt: bool = False
    last_turn_only: bool = False

    @classmethod
    def of(cls, config: Any) -> LossMask:
        return cls(bool(config.train_on_prompt), bool(getattr(config, "mask_history", False)))


def conversation_segments(tok: Any, conv: Conversation, last_turn_only: bool = False) -> list[list[tuple[str, bool]]]:
    """Split a conversation into examples of (text, trained) segments: an assistant turn is trained
    unless its loss_weight is 0 (or, with `last_turn_only`, unless it is the last assistant turn)."""
    messages, tools = _template_messages(tok, conv)
    # the template may have gained a system turn in front; weights stay with their own turn
    offset = len(messages) - len(conv.messages)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    examples: list[list[tuple[str, bool]]] = []
    segments: list[tuple[str, bool]] = []
    text = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tok, messages[:i], tools, generation=True)
        full = _render(tok, messages[: i + 1], tools, generation=False)
        if not full.startswith(prompt):
            raise RowError(say("row.template_not_prefix"))
        if prompt.startswith(text):
            segments.append((prompt[len(text):], False))
        else:
            examples.append(segments)
            segments = [(prompt, False)]
        weight = conv.messages[i - offset].get("loss_weight", 1.0) if i >= offset else 1.0
        segments.append((full[len(prompt):], weight > 0 and (i == last or not last_turn_only)))
        text = full
    examples.append(segments)
    return [ex for ex in examples if any(trained for _, trained in ex)]


def conversation_examples(tok: Any, convs: list[Conversation], mask: LossMask) -> list[list[Encoded] | RowError]:
    """Untruncated examples of each conversation (or the reason it cannot be rendered). Every segment of
    the batch is tokenized in one call: the fast tokenizer's per-call cost dominates short samples."""
    rendered: list[list[list[tuple[str, bool]]] | RowError] = []
    texts: list[str] = []
    for conv in convs:
        try:
            examples = conversation_segments(tok, conv, mask.last_turn_only)
        except RowError as exc:
            rendered.append(exc)
            continue
        rendered.append(examples)
        texts += [text for ex in examples for text, _ in ex]
    pieces = iter(tok(texts, add_special_tokens=False)["input_ids"] if texts else [])
    out: list[list[Encoded] | RowError] = []
    for item in rendered:
        if isinstance(item, RowError):
            out.append(item)
            continue
        encoded = []
        for segments in item:
            ids: list[int] = []
            labels: list[int] = []
            for _, trained in segments:
                piece = next(pieces)
                ids += piece
                labels += piece if (trained or mask.train_on_prompt) else [IGNORE] * len(piece)
            encoded.append(Encoded(ids, labels))
        out.append(encoded)
    return out


def encode_conversations(tok: Any, convs: list[Conversation], max_len: int, mask: LossMask,
                         stats: EncodeStats) -> list[list[Encoded] | RowError]:
    """Training examples of each conversation, truncated to max_len, or the reason it has none."""
    out: list[list[Encoded] | RowError] = []
    for item in conversation_examples(tok, convs, mask):
        out.append(item if isinstance(item, RowError) else [f for e in item for f in fit(e, max_len, stats)])
    return out


def encode_conversation(tok: Any, conv: Conversation, max_len: int, mask: LossMask,
                        stats: EncodeStats) -> list[Encoded]:
    (result,) = encode_conversations(tok, [conv], max_len, mask, stats)
    if isinstance(result, RowError):
        raise result
    return result


def encode_texts(tok: Any, samples: list[PlainText], max_len: int, stats: EncodeStats) -> list[Encoded]:
    """Pre-training text is split into max_len chunks rather than truncated: no text is thrown away."""
    if not samples:
        return []
    out = []
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    for ids in tok([s.text for s in samples], add_special_tokens=True)["input_ids"]:
        ids = ids + eos
        for i in range(0, len(ids), max_len):
            chunk = ids[i:i + max_len]
            if len(chunk) > 1:
                out.append(Encoded(chunk, list(chunk)))
                stats.tokens += len(chunk)
                stats.trained_tokens += len(chunk)
    return out


def encode_text(tok: Any, sample: PlainText, max_len: int, stats: EncodeStats) -> list[Encoded]:
    return encode_texts(tok, [sample], max_len, stats)


def fit(example: Encoded, max_len: int, stats: EncodeStats) -> list[Encoded]:
    if len(example) > max_len:
        example = Encoded(example.input_ids[:max_len], example.labels[:max_len])
        if all(label == IGNORE for label in example.labels[1:]):
            stats.too_long += 1
            return []
        stats.truncated += 1
    trained = sum(1 for label in example.labels[1:] if label != IGNORE)
    if trained == 0:
        return []
    stats.tokens += len(example)
    stats.trained_tokens += trained
    return [example]


def kto_record(conv: Conversation) -> dict[str, Any]:
    """TRL's conversational unpaired-preference format: the last answer is the labelled completion."""
    messages = [{k: v for k, v in m.items() if k != "loss_weight"} for m in conv.messages]
    return {"prompt": messages[:-1], "completion": messages[-1:], "label": bool(conv.label)}


def preference_record(pref: Preference) -> dict[str, Any]:
    """TRL's conversational preference format; TRL applies the chat template itself."""
    prompt = pref.prompt
    if pref.tools:
        schema = "You can call these tools:\n" + json.dumps(pref.tools, ensure_ascii=False)
        if prompt[0]["role"] == "system":
            prompt = [{"role": "system", "content": prompt[0]["content"] + "\n\n" + schema}, *prompt[1:]]
        else:
            prompt = [{"role": "system", "content": schema}, *prompt]
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": pref.chosen}],
        "rejected": [{"role": "assistant", "content": pref.rejected}],
    }
