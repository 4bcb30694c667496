"""Generating for several sides at once, streaming. Sides that share a model go into one batched
generate call (PEFT mixes adapter-on and adapter-off rows), other models generate on their own threads;
either way the caller sees every side's text grow token by token, and a stop event ends all of them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ModelError
from engine.inference.pool import BASE, Side


@dataclass(frozen=True)
class Sampling:
    """The same on both sides. temperature 0 means greedy (reproducible without a seed)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 256
    repetition_penalty: float = 1.0
    seed: int = 0

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


def render(side: Side, messages: list[dict[str, str]]) -> list[int]:
    tok = side.tokenizer
    try:
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
    except Exception as exc:
        raise ModelError(f"{side.plan.label}: its chat template cannot render this conversation ({exc})") from exc
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return list(ids)


def context_of(model: Any) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "max_position_embeddings", 0) or 0)


class _Rows:
    """A generate streamer for a batch: each row's new tokens, decoded, until that row's stop token."""

    def __init__(self, sides: list[Side], slots: list[int], texts: list[str], updates: queue.Queue, stops: list[int]):
        self.sides, self.slots, self.texts, self.updates = sides, slots, texts, updates
        self.tokens: list[list[int]] = [[] for _ in sides]
        self.done = [False] * len(sides)
        self.stops = set(stops)
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands the prompt over first
            self.prompt_seen = True
            return
        row_tokens = value.reshape(len(self.sides), -1)[:, -1].tolist()
        for i, token in enumerate(row_tokens):
            if self.done[i]:
                continue
            if token in self.stops:
                self.done[i] = True
                continue
            self.tokens[i].append(token)
            self.texts[self.slots[i]] = self.sides[i].tokenizer.decode(self.tokens[i], skip_special_tokens=True)
        self.updates.put(True)

    def end(self) -> None:
        self.updates.put(True)


class _StopOn:
    """A stopping criterion that ends generation when the stop event is set."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def stream(sides: list[Side], conversations: list[list[dict[str, str]]], sampling: Sampling,
           stop: threading.Event | None = None) -> Iterator[list[str]]:
    """Yield every side's text so far, as it grows, until all sides finish (or `stop` is set)."""
    stop = stop or threading.Event()
    kwargs = sampling.kwargs()
    prompts = [render(side, conv) for side, conv in zip(sides, conversations, strict=True)]
    for side, ids in zip(sides, prompts, strict=True):
        limit = context_of(side.loaded.model)
        if limit and len(ids) + sampling.max_new_tokens > limit:
            raise ModelError(f"the conversation is {len(ids):,} tokens and {sampling.max_new_tokens} more are asked "
                             f"for, but {side.plan.label}'s context is {limit:,} tokens: clear the history or "
                             "lower max new tokens")
    groups: dict[int, list[int]] = {}
    for i, side in enumerate(sides):
        groups.setdefault(id(side.loaded), []).append(i)
    texts = [""] * len(sides)
    updates: queue.Queue = queue.Queue()
    errors: list[BaseException] = []

    def run(slots: list[int]) -> None:
        try:
            _generate([sides[i] for i in slots], [prompts[i] for i in slots], slots, texts, updates, kwargs,
                      sampling.seed, stop)
        except BaseException as exc:  # shown to the caller, not lost on a thread
            errors.append(exc)
        finally:
            updates.put(None)

    threads = [threading.Thread(target=run, args=(slots,), daemon=True) for slots in groups.values()]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(threads):
        item = updates.get()
        if item is None:
            finished += 1
        yield list(texts)
    if errors:
        exc = errors[0]
        if isinstance(exc, ModelError):
            raise exc
        raise ModelError(f"generation failed: {type(exc).__name__}: {exc}") from exc


def _generate(sides: list[Side], prompts: list[list[int]], slots: list[int], texts: list[str], updates: queue.Queue,
              kwargs: dict[str, Any], seed: int, stop: threading.Event) -> None:
    import torch
    from transformers import StoppingCriteriaList

    loaded = sides[0].loaded
    tok = sides[0].tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=loaded.device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=loaded.device)
    tokenizers = {id(side.tokenizer): side.tokenizer for side in sides}.values()
    stops = sorted({s for tok in tokenizers for s in stop_ids(tok, loaded.model)})
    extra: dict[str, Any] = {}
    if any(side.adapter != BASE for side in sides) or hasattr(loaded.model, "peft_config"):
        extra["adapter_names"] = [side.adapter for side in sides]
    streamer = _Rows(sides, slots, texts, updates, stops)
    with loaded.lock, torch.inference_mode():
        torch.manual_seed(seed)
        loaded.model.generate(input_ids=input_ids, attention_mask=mask, streamer=streamer, pad_token_id=pad,
                              eos_token_id=stops, stopping_criteria=StoppingCriteriaList([_StopOn(stop)]),
                              **kwargs, **extra)


def answer(sides: list[Side], conversations: list[list[dict[str, str]]], sampling: Sampling) -> list[str]:
    """The finished answers (no streaming)."""
    texts = [""] * len(sides)
    for step in stream(sides, conversations, sampling):
        texts = step
    return texts


def reference_nll(sides: list[Side], conversations: list[list[dict[str, str]]], references: list[str]
                  ) -> list[float | None]:
    """Mean negative log-likelihood of each reference answer given its conversation, per row (None where
    there is no reference): each side's perplexity on the references is exp of the mean."""
    import torch

    out: list[float | None] = [None] * len(sides)
    rows = [i for i, ref in enumerate(references) if ref and ref.strip()]
    groups: dict[int, list[int]] = {}
    for i in rows:
        groups.setdefault(id(sides[i].loaded), []).append(i)
    for slots in groups.values():
        loaded = sides[slots[0]].loaded
        seqs, masks = [], []
        for i in slots:
            prompt = render(sides[i], conversations[i])
            tok = sides[i].tokenizer
            answer = tok(references[i].strip(), add_special_tokens=False)["input_ids"]
            end = stop_ids(tok, loaded.model)[:1]
            limit = context_of(loaded.model) or 4096
            ids = (prompt + answer + end)[:limit]
            seqs.append(ids)
            masks.append([0] * len(prompt) + [1] * (len(ids) - len(prompt)))
        width = max(len(s) for s in seqs)
        pad = sides[slots[0]].tokenizer.pad_token_id or 0
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=loaded.device)
        attention = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=loaded.device)
        scored = torch.tensor([m + [0] * (width - len(m)) for m in masks], device=loaded.device)
        extra: dict[str, Any] = {}
        if hasattr(loaded.model, "peft_config"):
            extra["adapter_names"] = [sides[i].adapter for i in slots]
        with loaded.lock, torch.inference_mode():
            logits = loaded.model(input_ids=input_ids, attention_mask=attention, **extra).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        target = input_ids[:, 1:]
        nll = -logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
        weight = scored[:, 1:].float()
        per_row = (nll * weight).sum(-1) / weight.sum(-1).clamp(min=1)
        for slot, value in zip(slots, per_row.tolist(), strict=True):
            out[slot] = float(value)
    return out
