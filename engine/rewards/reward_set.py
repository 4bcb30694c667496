"""The weighted rewards of a GRPO run, built from TrainConfig, in the shape TRL's GRPOTrainer calls.

`reward_functions` reads like `answer_match:1, format:0.5`. Each entry becomes one TRL reward function
(so each is charted on its own) and the set remembers the last batch it scored, so the run's log can
show sampled completions with their rewards.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.rewards import builtin
from engine.rewards.builtin import RewardSettings
from engine.rewards.custom import load_reward_file
from engine.rewards.spec import REFERENCE_COLUMN, check_spec, parse_spec, words_of


def settings_of(config: TrainConfig) -> RewardSettings:
    return RewardSettings(config.reward_answer_mode, config.reward_format_pattern, config.reward_target_length,
                          words_of(config.reward_contain_words), words_of(config.reward_avoid_words))


def completion_text(completion: Any) -> str:
    """TRL passes conversational completions as message lists and plain ones as strings."""
    if isinstance(completion, list):
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion)


@dataclass
class ScoredBatch:
    prompts: list[Any] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=dict)


class RewardSet:
    def __init__(self, config: TrainConfig):
        errors = check_spec(config)
        if errors:
            raise ConfigError("\n".join(errors))
        self.settings = settings_of(config)
        self.pattern = re.compile(config.reward_format_pattern)  # $ is the end of the completion, not of a line
        self.names: list[str] = []
        self.weights: list[float] = []
        self.funcs: list[Callable[..., list[float]]] = []
        self.last = ScoredBatch()
        self._lock = threading.Lock()
        for name, weight in parse_spec(config.reward_functions):
            if name == "python":
                for fn_name, fn in load_reward_file(config.reward_file).items():
                    self._add(fn_name, weight, self._user(fn_name, fn))
            else:
                self._add(name, weight, self._builtin(name))

    @property
    def needs_reference(self) -> bool:
        return "answer_match" in self.names

    def _add(self, name: str, weight: float, fn: Callable[..., list[float]]) -> None:
        fn.__name__ = name  # TRL logs rewards/<__name__>/mean and /std
        self.names.append(name)
        self.weights.append(weight)
        self.funcs.append(fn)

    def _score_one(self, name: str, text: str, reference: Any) -> float:
        s = self.settings
        if name == "answer_match":
            return builtin.answer_match(text, reference, s)
        if name == "format":
            return builtin.follows_format(text, self.pattern)
        if name == "length":
            return builtin.length_near(text, s.target_length)
        if name == "contains":
            return builtin.contains(text, s.contain_words)
        return builtin.avoids(text, s.avoid_words)

    def _builtin(self, name: str) -> Callable[..., list[float]]:
        def score(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
            texts = [completion_text(c) for c in completions]
            refs = columns.get(REFERENCE_COLUMN) or [None] * len(texts)
            values = [self._score_one(name, t, r) for t, r in zip(texts, refs, strict=False)]
            self._remember(name, prompts, texts, values)
            return values

        return score

    def _user(self, name: str, fn: Callable[..., Any]) -> Callable[..., list[float]]:
        def score(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
            texts = [completion_text(c) for c in completions]
            try:
                raw = fn(prompts=prompts, completions=texts, **columns)
                values = [float(v) for v in raw]
            except Exception as exc:
                raise ConfigError(f"reward function {name} (reward_file) failed: {type(exc).__name__}: {exc}"
                                  ) from exc
            if len(values) != len(texts):
                raise ConfigError(f"reward function {name} returned {len(values)} scores for {len(texts)} "
                                  "completions; return one number per completion")
            self._remember(name, prompts, texts, values)
            return values

        return score

    def _remember(self, name: str, prompts: list[Any], texts: list[str], values: list[float]) -> None:
        with self._lock:
            if texts != self.last.completions:
                self.last = ScoredBatch(list(prompts), list(texts), {})
            self.last.scores[name] = list(values)

    def total(self, scores: dict[str, list[float]]) -> list[float]:
        n = len(next(iter(scores.values()), []))
        return [sum(w * scores[name][i] for name, w in zip(self.names, self.weights, strict=True) if name in scores)
                for i in range(n)]

    def sample_lines(self, count: int, max_chars: int = 300) -> list[str]:
        """A few completions from the last scored batch with each reward, for the run's log."""
        with self._lock:
            batch = self.last
        if not batch.completions or not batch.scores:
            return []
        totals = self.total(batch.scores)
        lines = []
        step = max(1, len(batch.completions) // max(count, 1))
        for i in range(0, len(batch.completions), step)[:count]:
            prompt = _prompt_text(batch.prompts[i]) if i < len(batch.prompts) else ""
            parts = ", ".join(f"{n} {batch.scores[n][i]:.2f}" for n in self.names if n in batch.scores)
            text = batch.completions[i].replace("\n", " ⏎ ")
            lines.append(f"  [{totals[i]:.2f}: {parts}] {prompt[:80]!r} → {text[:max_chars]!r}")
        return lines


def _prompt_text(prompt: Any) -> str:
    if isinstance(prompt, list):
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return str(users[-1]) if users else ""
    return str(prompt)
