"""Is a model's final answer mathematically the reference? `math-verify` does the checking (0.5 == 1/2 ==
\\frac{1}{2}); this module only finds the final answer in a completion and keeps the check bounded."""

from __future__ import annotations

import logging
import re

MAX_CHARS = 400  # parsing is symbolic: a final answer longer than this is not a number worth checking

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*(?:/\d+)?")


def final_answer(text: str) -> str:
    """The part of a completion that states the answer: <answer>…</answer>, \\boxed{…}, the text after
    'answer is' / '答案是', or else the last number."""
    for pattern in (_ANSWER_TAG, _BOXED):
        found = pattern.findall(text)
        if found:
            return found[-1].strip()
    tail = re.split(r"(?i)answer\s*(?:is\s*:?|:)|答案(?:是|为|：|:)", text)
    if len(tail) > 1:
        return tail[-1].strip().strip(".。:： ")
    numbers = _NUMBER.findall(text)
    return numbers[-1].replace(",", "") if numbers else text.strip()


def math_equal(prediction: str, reference: str) -> bool:
    """Numerically or symbolically equal. Runs without signal-based timeouts (training runs on a worker
    thread, where signals cannot be used); inputs are bounded instead."""
    from math_verify import parse, verify

    pred, gold = final_answer(prediction)[-MAX_CHARS:], str(reference).strip()[-MAX_CHARS:]
    if not pred or not gold:
        return False
    logger = logging.getLogger("math_verify")
    level = logger.level
    logger.setLevel(logging.ERROR)  # it warns on every call that the timeout is off
    try:
        gold_parsed = parse(_as_math(gold), parsing_timeout=None)
        pred_parsed = parse(_as_math(pred), parsing_timeout=None)
        return bool(gold_parsed and pred_parsed and verify(gold_parsed, pred_parsed, timeout_seconds=None))
    except Exception:  # a malformed expression is simply not equal
        return False
    finally:
        logger.setLevel(level)


def _as_math(text: str) -> str:
    """math-verify reads LaTeX inside $…$ best; bare expressions are wrapped so both forms parse."""
    return text if "$" in text or "\\" not in text else f"${text}$"
