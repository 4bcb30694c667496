"""Decoding with one model and its tokenizer, below any notion of chat sides: the sampling settings, the
tokens that end an answer, a conversation rendered with the model's chat template, and one batched
generate call. Compare Chat's streaming sides and the training replay both decode through here."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from engine.errors import ModelError


@dataclass(frozen=True)
class Sampling:
    """The same on both sides. temperature 0 means greedy (reproducible without a seed)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int = 0

    @classmethod
    def of(cls, **values: Any) -> Sampling:
        """From form or API values (numbers as floats or text, blanks as None): each field's type, and its
        default where a value is blank."""
        defaults = cls()
        out = {}
        for name, value in values.items():
            default = getattr(defaults, name)  # an unknown name is an AttributeError: a caller's bug
            out[name] = default if value is None or value == "" else type(default)(value)
        return cls(**out)

    def kwargs(self) -> dict[str, Any]:
        if not 1 <= self.max_new_tokens <= 8192:
            raise ModelError(f"max new tokens {self.max_new_tokens}: choose 1 to 8192")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.repetition_penalty <= 0:
            raise ModelError("temperature must be ≥ 0, top-p in (0, 1], repetition penalty > 0")
        out: dict[str, Any] = {"max_new_tokens": int(self.max_new_tokens),
                               "repetition_penalty": float(self.repetition_penalty)}
        if self.temperature > 0:
            out.update(do_sample=True, temperature=float(self.temperature), top_p=float(self.top_p),
                       top_k=int(self.top_k))
        else:
            out.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return out


END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>")


def stop_ids(tok: Any, model: Any) -> list[int]:
    ids = set()
    for value in (tok.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        ids.update(value if isinstance(value, list) else [value] if value is not None else [])
    for marker in END_MARKERS:
        token = _known_token_id(tok, marker)
        if token is not None:
            ids.add(token)
    return sorted(ids)


def _known_token_id(tok: Any, marker: str) -> int | None:
    """The marker's id, or None where the vocabulary lacks it. A lookup, not `get_vocab()`: building the
    whole vocabulary as a dict takes about 0.13 s for Qwen's 151k tokens, on every message and row."""
    token = tok.convert_tokens_to_ids(marker)
    if token is None or (token == tok.unk_token_id and marker != tok.unk_token):
        return None
    return int(token)


def context_of(model: Any) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "max_position_embeddings", 0) or 0)


def chat_prompt(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    """The conversation's token ids, ending where the assistant's answer begins."""
    try:
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    except Exception as exc:
        raise ModelError(f"its chat template cannot render this conversation ({exc})") from exc
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return list(ids)


class _StopOn:
    """A stopping criterion that ends generation when the stop event is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def generate_batch(model: Any, tok: Any, prompts: list[list[int]], sampling: Sampling, stops: list[int],
                   adapter_names: list[str] | None = None, streamer: Any = None,
                   stop: threading.Event | None = None) -> Any:
    """One generate call for every prompt (left-padded), ending each row at a stop token; returns the
    output ids, prompts included. `adapter_names`: PEFT's adapter per row, for mixed batches."""
    import torch
    from transformers import StoppingCriteriaList

    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    extra: dict[str, Any] = {"adapter_names": adapter_names} if adapter_names is not None else {}
    if streamer is not None:
        extra["streamer"] = streamer
    with torch.inference_mode():
        torch.manual_seed(sampling.seed)
        return model.generate(input_ids=input_ids, attention_mask=mask, pad_token_id=pad, eos_token_id=stops,
                              stopping_criteria=StoppingCriteriaList([_StopOn(stop or threading.Event())]),
                              **sampling.kwargs(), **extra)


def answers(model: Any, tok: Any, conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[str]:
    """Each conversation's answer, decoded up to its first stop token."""
    stops = stop_ids(tok, model)
    prompts = [chat_prompt(tok, conv) for conv in conversations]
    out = generate_batch(model, tok, prompts, sampling, stops)
    width = max(len(p) for p in prompts)
    texts = []
    for row in out[:, width:].tolist():
        end = next((i for i, token in enumerate(row) if token in stops), len(row))
        texts.append(tok.decode(row[:end], skip_special_tokens=True))
    return texts
