"""Rendering samples through the tokenizer's own chat template into input ids and labels.

Only assistant tokens carry loss unless `train_on_prompt` is set. A conversation is rendered turn by
turn: the prompt before each answer comes from `add_generation_prompt=True`, the answer is what
rendering the answer adds to it. Templates that rewrite history (Qwen3 drops earlier reasoning)
make a later prompt stop extending the text so far; such a conversation becomes several examples,
each exactly what the model sees at inference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.data.formats import Conversation, PlainText, Preference, RowError

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


def _render(tok: Any, messages: list[dict[str, str]], tools: list[Any] | None, generation: bool) -> str:
    try:
        return tok.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=generation)
    except Exception as exc:  # jinja raises TemplateError (and templates raise their own exceptions)
        raise RowError(f"the model's chat template rejected this conversation: {exc}") from exc


def _with_tools(tok: Any, conv: Conversation) -> tuple[list[dict[str, str]], list[Any] | None]:
    """Templates without tool support get the tool schema in the system prompt instead of losing it."""
    if not conv.tools:
        return conv.messages, None
    if "tools" in (tok.chat_template or ""):
        return conv.messages, conv.tools
    schema = "You can call these tools:\n" + json.dumps(conv.tools, ensure_ascii=False)
    messages = [dict(m) for m in conv.messages]
    if messages[0]["role"] == "system":
        messages[0]["content"] = messages[0]["content"] + "\n\n" + schema
    else:
        messages.insert(0, {"role": "system", "content": schema})
    return messages, None


def conversation_segments(tok: Any, conv: Conversation) -> list[list[tuple[str, bool]]]:
    """Split a conversation into examples of (text, is_answer) segments."""
    messages, tools = _with_tools(tok, conv)
    examples: list[list[tuple[str, bool]]] = []
    segments: list[tuple[str, bool]] = []
    text = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tok, messages[:i], tools, generation=True)
        full = _render(tok, messages[: i + 1], tools, generation=False)
        if not full.startswith(prompt):
            raise RowError("the chat template renders this answer in a way that does not extend its prompt")
        if prompt.startswith(text):
            segments.append((prompt[len(text):], False))
        else:
            examples.append(segments)
            segments = [(prompt, False)]
        segments.append((full[len(prompt):], True))
        text = full
    examples.append(segments)
    return [ex for ex in examples if any(trained for _, trained in ex)]


def encode_conversation(tok: Any, conv: Conversation, max_len: int, train_on_prompt: bool,
                        stats: EncodeStats) -> list[Encoded]:
    out = []
    for segments in conversation_segments(tok, conv):
        ids: list[int] = []
        labels: list[int] = []
        for text, is_answer in segments:
            piece = tok(text, add_special_tokens=False)["input_ids"]
            ids += piece
            labels += piece if (is_answer or train_on_prompt) else [IGNORE] * len(piece)
        out += _fit(Encoded(ids, labels), max_len, stats)
    return out


def encode_text(tok: Any, sample: PlainText, max_len: int, stats: EncodeStats) -> list[Encoded]:
    """Pre-training text is split into max_len chunks rather than truncated: no text is thrown away."""
    ids = tok(sample.text, add_special_tokens=True)["input_ids"]
    if tok.eos_token_id is not None:
        ids = ids + [tok.eos_token_id]
    chunks = [ids[i:i + max_len] for i in range(0, len(ids), max_len)]
    out = [Encoded(c, list(c)) for c in chunks if len(c) > 1]
    for e in out:
        stats.tokens += len(e)
        stats.trained_tokens += len(e)
    return out


def _fit(example: Encoded, max_len: int, stats: EncodeStats) -> list[Encoded]:
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
