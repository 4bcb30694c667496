"""Per-answer metrics against a reference, with the well-kept libraries: BLEU-4 from sacrebleu (its own
Chinese tokenizer for Chinese text) and ROUGE-L from rouge-score, fed words — jieba's segmentation for
Chinese (rouge-score's own tokenizer drops every non-ASCII character), lower-cased words for English."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"\w+", re.UNICODE)


def is_chinese(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if CJK.match(c)) / len(letters) >= 0.3


def words(text: str) -> list[str]:
    """Words for ROUGE and for matching: jieba segments Chinese; everything is lower-cased; punctuation goes."""
    pieces = _jieba().lcut(text) if CJK.search(text) else WORD.findall(text)
    out = []
    for piece in pieces:
        piece = piece.strip().lower()
        if piece and not all(unicodedata.category(c).startswith(("P", "S", "Z")) for c in piece):
            out.append(piece)
    return out


class _Words:
    """The tokenizer interface rouge-score expects."""

    def tokenize(self, text: str) -> list[str]:
        return words(text)


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(60)  # its "building prefix dict" chatter is not for our users
    return jieba


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Words())


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 in [0, 1]."""
    if not hypothesis.strip() or not reference.strip():
        return 0.0
    return float(_rouge().score(reference, hypothesis)["rougeL"].fmeasure)


def bleu4(hypothesis: str, reference: str) -> float:
    """Sentence BLEU-4 in [0, 100] (sacrebleu's exponential smoothing for short answers)."""
    import sacrebleu

    if not hypothesis.strip() or not reference.strip():
        return 0.0
    tokenize = "zh" if is_chinese(reference) else "13a"
    return float(sacrebleu.sentence_bleu(hypothesis, [reference], tokenize=tokenize).score)
