"""Replay against forgetting ("keep general behaviour"): before training, the base model answers a set of
general prompts TuneDesk ships; those answers join the training data, so the model keeps saying what it
used to say where the new data is silent. Self-distillation: no external data, works offline, in the
base model's own style. Answers are generated once per model and kept in TuneDesk's cache."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from engine.data.formats import Conversation
from engine.inference.decode import Sampling, answers
from engine.locations import SAMPLES_DIR, cache_root

PROMPTS = SAMPLES_DIR / "replay_prompts.jsonl"
MAX_NEW_TOKENS = 96
BATCH = 32  # prompts per generate call: one call for the usual 18-36 (left padding costs little here)


def replay_prompts(path: Path = PROMPTS) -> list[str]:
    return [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replay_conversations(model: Any, tok: Any, model_path: str, count: int, seed: int, log: Any = print
                         ) -> list[Conversation]:
    """`count` conversations: built-in prompts with the base model's own greedy answers."""
    prompts = replay_prompts()
    random.Random(seed).shuffle(prompts)
    prompts = prompts[:max(0, min(count, len(prompts)))]
    if not prompts:
        return []
    answers = _cached_answers(model, tok, model_path, prompts, log)
    return [Conversation([{"role": "user", "content": p}, {"role": "assistant", "content": a}])
            for p, a in zip(prompts, answers, strict=True) if a.strip()]


def _cached_answers(model: Any, tok: Any, model_path: str, prompts: list[str], log: Any) -> list[str]:
    key = hashlib.sha1(json.dumps([model_path, tok.chat_template or "", prompts, MAX_NEW_TOKENS]).encode())
    path = cache_root() / "replay" / f"{key.hexdigest()[:16]}.json"
    if path.is_file():
        log(f"replay: {len(prompts)} answers of the base model read from the cache")
        return json.loads(path.read_text(encoding="utf-8"))
    log(f"replay: the base model answers {len(prompts)} general prompts once (kept for later runs)…")
    answers = _generate(model, tok, prompts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    return answers


def _generate(model: Any, tok: Any, prompts: list[str]) -> list[str]:
    was, model.config.use_cache = model.config.use_cache, True  # training turns the cache off; decoding wants it
    try:
        out: list[str] = []
        for start in range(0, len(prompts), BATCH):
            convs = [[{"role": "user", "content": p}] for p in prompts[start:start + BATCH]]
            out += [a.strip() for a in answers(model, tok, convs, Sampling(max_new_tokens=MAX_NEW_TOKENS))]
        return out
    finally:
        model.config.use_cache = was
