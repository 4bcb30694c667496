"""Compare Chat, headless: two sides (base, a run's final model or a checkpoint), the same prompt and
sampling for both, each side's own chat template and history, streamed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from engine.errors import ModelError
from engine.inference.decode import Sampling
from engine.inference.generate import stream
from engine.inference.pool import POOL, ModelPool, Side
from engine.inference.sides import plan_side, template_id, template_of

MAX_PROMPT_CHARS = 100_000


class CompareChat:
    def __init__(self, manager: Any, pool: ModelPool = POOL):
        self.manager = manager
        self.pool = pool

    def load(self, left: str, right: str) -> tuple[list[Side], dict[str, Any]]:
        plans = [plan_side(left, self.manager), plan_side(right, self.manager)]
        sides = self.pool.sides(plans)
        return sides, describe(sides)

    def stream(self, left: str, right: str, message: str, history: list[list[dict[str, str]]] | None = None,
               system: str = "", sampling: Sampling | None = None, stop: threading.Event | None = None,
               on_loaded: Callable[[dict[str, Any]], None] | None = None) -> Iterator[tuple[str, str]]:
        """Yield (left text, right text) as both grow. `history` is each side's earlier turns (each side
        keeps its own answers); `on_loaded` gets the sides' labels, templates and warnings once loaded."""
        message = (message or "").strip()
        if not message:
            raise ModelError("the message is empty: type a question")
        if len(message) > MAX_PROMPT_CHARS:
            raise ModelError(f"the message is {len(message):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
        sides, info = self.load(left, right)
        if on_loaded is not None:
            on_loaded(info)
        history = history or [[], []]
        conversations = []
        for turns in history:
            conv = [{"role": "system", "content": system.strip()}] if system and system.strip() else []
            conversations.append(conv + list(turns) + [{"role": "user", "content": message}])
        for texts in stream(sides, conversations, sampling or Sampling(), stop):
            yield texts[0], texts[1]

    def chat(self, left: str, right: str, message: str, system: str = "", sampling: Sampling | None = None
             ) -> dict[str, Any]:
        answers, info = ("", ""), {}
        for step in self.stream(left, right, message, None, system, sampling, on_loaded=info.update):
            answers = step
        return {"left": answers[0], "right": answers[1], **info}


def describe(sides: list[Side]) -> dict[str, Any]:
    """Which model and chat template each side uses, and warnings a user should see."""
    names = []
    warnings = []
    for side in sides:
        used = side.tokenizer.chat_template or ""
        names.append(template_id(used))
        trained = side.plan.trained_template
        if trained and used != trained:
            warnings.append(f"{side.plan.label} uses a different chat template than it was trained with")
    base_templates = [template_of(side.loaded.path) for side in sides if side.plan.spec.startswith("base:")]
    if names[0] != names[1]:
        warnings.append(f"the two sides use different chat templates ({names[0]} vs {names[1]}): differences "
                        "may come from the template, not the training")
    elif any(not t for t in base_templates):
        warnings.append("the base model ships no chat template: TuneDesk uses ChatML for it, as in training")
    return {"labels": [s.plan.label for s in sides], "templates": names, "warnings": warnings,
            "shared_base": sides[0].loaded is sides[1].loaded, "merged": [side.merged for side in sides]}
