"""Generating for several sides at once, streaming. Sides that share a model go into one batched
generate call (PEFT mixes adapter-on and adapter-off rows); other models generate on their own threads
when greedy, one after another when sampling (so a seed repeats). Either way the caller sees every side's
text grow token by token, and a stop event ends all of them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ModelError
from engine.inference.decode import Sampling, chat_prompt, context_of, generate_batch, stop_ids
from engine.inference.pool import BASE, Side

LOGIT_BUDGET = 1 << 27  # fp32 logits scored at once (512 MiB)


def render(side: Side, messages: list[dict[str, str]]) -> list[int]:
    try:
        return chat_prompt(side.tokenizer, messages)
    except ModelError as exc:
        raise ModelError(f"{side.plan.label}: {exc}") from exc


@dataclass
class Streamed:
    """Every side's answer so far: its text, how many tokens it generated (stop tokens not counted) and
    whether it ended at one of its stop tokens (else it ran out of tokens or was stopped)."""

    texts: list[str]
    tokens: list[int]
    ended: list[bool]


class _Rows:
    """A generate streamer for a batch: each row's new tokens, decoded, until that row's stop token."""

    def __init__(self, sides: list[Side], slots: list[int], state: Streamed, updates: queue.Queue, stops: list[int]):
        self.sides, self.slots, self.state, self.updates = sides, slots, state, updates
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
            slot = self.slots[i]
            if token in self.stops:
                self.done[i] = self.state.ended[slot] = True
                continue
            self.tokens[i].append(token)
            self.state.tokens[slot] = len(self.tokens[i])
            self.state.texts[slot] = self.sides[i].tokenizer.decode(self.tokens[i], skip_special_tokens=True)
        self.updates.put(True)

    def end(self) -> None:
        self.updates.put(True)


def check_context(side: Side, ids: list[int], sampling: Sampling) -> None:
    limit = context_of(side.loaded.model)
    if limit and len(ids) + sampling.max_new_tokens > limit:
        raise ModelError(f"the conversation is {len(ids):,} tokens and {sampling.max_new_tokens} more are asked "
                         f"for, but {side.plan.label}'s context is {limit:,} tokens: clear the history or "
                         "lower max new tokens")


def stream(sides: list[Side], conversations: list[list[dict[str, str]]], sampling: Sampling,
           stop: threading.Event | None = None) -> Iterator[list[str]]:
    """Yield every side's text so far, as it grows, until all sides finish (or `stop` is set)."""
    sampling.kwargs()  # a bad setting is refused before any thread starts
    prompts = [render(side, conv) for side, conv in zip(sides, conversations, strict=True)]
    for side, ids in zip(sides, prompts, strict=True):
        check_context(side, ids, sampling)
    for state in stream_state(sides, prompts, sampling, stop):
        yield list(state.texts)


def stream_state(sides: list[Side], prompts: list[list[int]], sampling: Sampling,
                 stop: threading.Event | None = None) -> Iterator[Streamed]:
    """Generate from each side's prompt (token ids), yielding the shared state after every new token;
    the caller copies what it keeps."""
    stop = stop or threading.Event()
    groups: dict[int, list[int]] = {}
    for i, side in enumerate(sides):
        groups.setdefault(id(side.loaded), []).append(i)
    state = Streamed([""] * len(sides), [0] * len(sides), [False] * len(sides))
    updates: queue.Queue = queue.Queue()
    errors: list[BaseException] = []

    def run(*runs: list[int]) -> None:
        try:
            for slots in runs:
                _generate([sides[i] for i in slots], [prompts[i] for i in slots], slots, state, updates, sampling,
                          stop)
        except BaseException as exc:  # shown to the caller, not lost on a thread
            errors.append(exc)
        finally:
            updates.put(None)

    # The sampling seed lives in torch's one global generator: models that sample at once, on threads of
    # their own, draw from it in whatever order they get there, and a seed would not repeat
    parts = [[slots] for slots in groups.values()] if sampling.temperature == 0 else [list(groups.values())]
    threads = [threading.Thread(target=run, args=part, daemon=True) for part in parts]
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(threads):
        item = updates.get()
        if item is None:
            finished += 1
        yield state
    if errors:
        exc = errors[0]
        if isinstance(exc, ModelError):
            raise exc
        raise ModelError(f"generation failed: {type(exc).__name__}: {exc}") from exc


def _generate(sides: list[Side], prompts: list[list[int]], slots: list[int], state: Streamed, updates: queue.Queue,
              sampling: Sampling, stop: threading.Event) -> None:
    loaded = sides[0].loaded
    tokenizers = {id(side.tokenizer): side.tokenizer for side in sides}.values()
    stops = sorted({s for tok in tokenizers for s in stop_ids(tok, loaded.model)})
    adapters = None
    if any(side.adapter != BASE for side in sides) or hasattr(loaded.model, "peft_config"):
        adapters = [side.adapter for side in sides]
    with loaded.lock:
        generate_batch(loaded.model, sides[0].tokenizer, prompts, sampling, stops, adapters,
                       _Rows(sides, slots, state, updates, stops), stop)


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
    out: list[float | None] = [None] * len(sides)
    rows = [i for i, ref in enumerate(references) if ref and ref.strip()]
    groups: dict[int, list[int]] = {}
    for i in rows:
        groups.setdefault(id(sides[i].loaded), []).append(i)
    for group in groups.values():
        model = sides[group[0]].loaded.model
        scored = {i: _scored_ids(sides[i], conversations[i], references[i]) for i in group}
        for slots in _logit_chunks(group, [len(scored[i][0]) for i in group], model):
            values = _nll(sides, [scored[i] for i in slots], slots)
            for slot, value in zip(slots, values, strict=True):
                out[slot] = value
    return out


def _scored_ids(side: Side, conversation: list[dict[str, str]], reference: str) -> tuple[list[int], int]:
    """The conversation with the reference as the answer, and where the answer starts."""
    prompt = render(side, conversation)
    answer = side.tokenizer(reference.strip(), add_special_tokens=False)["input_ids"]
    end = stop_ids(side.tokenizer, side.loaded.model)[:1]
    limit = context_of(side.loaded.model) or 4096
    return (prompt + answer + end)[:limit], len(prompt)


def _logit_chunks(slots: list[int], lengths: list[int], model: Any) -> list[list[int]]:
    """Rows in groups whose logits (rows × width × vocabulary, fp32) stay within LOGIT_BUDGET elements: a
    whole comparison's references at once would take gigabytes with a 150k-token vocabulary."""
    vocab = int(getattr(getattr(model, "config", None), "vocab_size", 0) or 50_000)
    chunks: list[list[int]] = [[]]
    widest = 0
    for slot, length in zip(slots, lengths, strict=True):
        if chunks[-1] and (len(chunks[-1]) + 1) * max(widest, length) * vocab > LOGIT_BUDGET:
            chunks.append([])
            widest = 0
        chunks[-1].append(slot)
        widest = max(widest, length)
    return chunks


def _nll(sides: list[Side], scored: list[tuple[list[int], int]], slots: list[int]) -> list[float]:
    import torch

    loaded = sides[slots[0]].loaded
    width = max(len(ids) for ids, _ in scored)
    pad = sides[slots[0]].tokenizer.pad_token_id or 0
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in scored], device=loaded.device)
    attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in scored], device=loaded.device)
    weight = torch.tensor([[0] * start + [1] * (len(ids) - start) + [0] * (width - len(ids)) for ids, start in scored],
                          device=loaded.device)[:, 1:].float()
    extra: dict[str, Any] = {}
    if hasattr(loaded.model, "peft_config"):
        extra["adapter_names"] = [sides[i].adapter for i in slots]
    with loaded.lock, torch.inference_mode():
        logits = loaded.model(input_ids=input_ids, attention_mask=attention, **extra).logits.float()
    logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return [float(v) for v in ((nll * weight).sum(-1) / weight.sum(-1).clamp(min=1)).tolist()]
