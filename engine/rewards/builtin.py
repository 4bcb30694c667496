"""TuneDesk's built-in rewards. Each scores one completion in [0, 1] from its text and the row's columns.

Words are counted the way a reader would: runs of letters or digits, and each CJK character on its own
(Chinese has no spaces, and one character is about one English word's worth of meaning).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from engine.rewards.mathcheck import final_answer, math_equal

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*|[\u3400-\u9fff\uf900-\ufaff]")
_NUMBERISH = re.compile(r"^[\s$\\{}()\-+*/^.,0-9a-z]*\d[\s$\\{}()\-+*/^.,0-9a-z]*$", re.I)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def normalize_answer(text: str) -> str:
    """Case, width, punctuation and spacing do not change an answer."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(text.split())


@dataclass(frozen=True)
class RewardSettings:
    answer_mode: str = "auto"  # auto | exact | normalized | math
    format_pattern: str = r"^\s*<think>[\s\S]*?</think>\s*\S[\s\S]*$"
    target_length: int = 50
    contain_words: tuple[str, ...] = ()
    avoid_words: tuple[str, ...] = ()


def answer_match(text: str, reference: Any, settings: RewardSettings) -> float:
    if reference is None or str(reference).strip() == "":
        return 0.0
    gold = str(reference).strip()
    mode = settings.answer_mode
    if mode == "auto":
        mode = "math" if _NUMBERISH.match(gold) else "normalized"
    if mode == "math":
        return 1.0 if math_equal(text, gold) else 0.0
    answer = final_answer(text) if _has_answer_marker(text) else text.strip()
    if mode == "exact":
        return 1.0 if answer == gold else 0.0
    return 1.0 if normalize_answer(answer) == normalize_answer(gold) else 0.0


def _has_answer_marker(text: str) -> bool:
    return bool(re.search(r"<answer>|\\boxed\{|(?i:answer\s*(?:is|:))|答案", text))


def follows_format(text: str, pattern: re.Pattern[str]) -> float:
    return 1.0 if pattern.search(text) else 0.0


def length_near(text: str, target: int) -> float:
    """1 at the target length, the ratio of the two otherwise (half or twice the target: 0.5; none: 0). A ratio
    never goes flat, so even answers far too long are ranked: GRPO learns only from differences in a group."""
    n = count_words(text)
    return min(n, target) / max(n, target, 1)


def contains(text: str, words: tuple[str, ...]) -> float:
    """The share of the listed words that appear (case-insensitive)."""
    if not words:
        return 0.0
    low = text.lower()
    return sum(1 for w in words if w.lower() in low) / len(words)


def avoids(text: str, words: tuple[str, ...]) -> float:
    """1 when none of the listed words appears, less for each one that does."""
    if not words:
        return 1.0
    low = text.lower()
    return 1.0 - sum(1 for w in words if w.lower() in low) / len(words)
