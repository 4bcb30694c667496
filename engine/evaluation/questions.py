"""Question sets for a batch comparison: a user's file (json / jsonl / csv, with optional reference
answers and key facts), a run's own validation or test split, or the sets TuneDesk ships."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.data.formats import Conversation
from engine.data.prepare import read_samples, split
from engine.data.readers import Row, iter_file
from engine.errors import DataError
from engine.locations import SAMPLES_DIR

SAMPLES = SAMPLES_DIR / "eval"
GENERAL_SET = SAMPLES / "general.jsonl"
IDENTITY_SET = SAMPLES / "identity_questions.jsonl"
QUESTION_KEYS = ("question", "prompt", "instruction", "query", "input")
ANSWER_KEYS = ("answer", "reference", "output", "response", "reference_answer")
MAX_QUESTIONS = 2000


@dataclass
class Question:
    question: str
    reference: str = ""
    facts: list[str] = field(default_factory=list)  # each "a|b": a right answer contains a or b
    system: str = ""
    where: str = ""


def load_questions(path: str | Path, limit: int = 0) -> list[Question]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"questions file {p} not found")
    out: list[Question] = []
    for row in iter_file(p):
        if not isinstance(row, Row):
            raise DataError(f"questions file {p.name}: {row}")
        question = _from_row(row.data, row.where, p.name)
        if question is not None:
            out.append(question)
        if len(out) >= (limit or MAX_QUESTIONS):
            break
    if not out:
        raise DataError(f"questions file {p.name} holds no questions")
    return out


def _from_row(data: dict[str, Any], where: str, name: str) -> Question | None:
    messages = data.get("messages") or data.get("conversations")
    if isinstance(messages, list) and messages:
        return _from_messages(messages, where)
    key = next((k for k in QUESTION_KEYS if isinstance(data.get(k), str) and data[k].strip()), None)
    if key is None:
        raise DataError(f"{where}: no question. A questions file needs a column named {' / '.join(QUESTION_KEYS)} "
                        f"(or OpenAI-style messages), optionally {' / '.join(ANSWER_KEYS)}; this row has "
                        f"{', '.join(sorted(data)) or 'no columns'}")
    text = data[key].strip()
    if key == "instruction" and isinstance(data.get("input"), str) and data["input"].strip():
        text = f"{text}\n{data['input'].strip()}"
    reference = next((data[k] for k in ANSWER_KEYS if isinstance(data.get(k), str) and k != key), "")
    facts = data.get("facts") or []
    if isinstance(facts, str):
        facts = [facts]
    return Question(text, reference.strip(), [str(f) for f in facts], str(data.get("system") or ""), where)


def _from_messages(messages: list[Any], where: str) -> Question:
    roles = [(m.get("role") or m.get("from"), m.get("content") or m.get("value")) for m in messages
             if isinstance(m, dict)]
    users = [i for i, (role, _) in enumerate(roles) if role in ("user", "human")]
    if not users:
        raise DataError(f"{where}: the messages have no user turn to ask")
    last = users[-1]
    reference = next((c for role, c in roles[last + 1:] if role in ("assistant", "gpt")), "") or ""
    system = next((c for role, c in roles if role == "system"), "") or ""
    return Question(str(roles[last][1] or ""), str(reference), [], str(system), where)


def split_questions(run: Any, which: str = "auto", limit: int = 200) -> list[Question]:
    """A run's validation (or test) split as questions, drawn as training drew it (same seed)."""

    config = run.config()
    normalized, _ = read_samples(config)
    by: dict[str, list[Any]] = {"train": [], "valid": [], "test": []}
    for sample, part in zip(normalized.samples, normalized.splits or ["train"] * len(normalized.samples),
                            strict=False):
        by[part].append(sample)
    valid = by["valid"] or split(by["train"], config.val_size, config.seed)[1]
    chosen = {"valid": valid, "test": by["test"], "auto": valid or by["test"]}.get(which)
    if chosen is None:
        raise DataError(f"split '{which}': use valid, test or auto")
    if not chosen:
        raise DataError(f"run {run.run_id} has no {'validation or test' if which == 'auto' else which} split: "
                        "give a questions file, or train with val_size > 0")
    out = []
    for i, sample in enumerate(chosen[:limit]):
        if isinstance(sample, Conversation):
            out.append(_from_messages(sample.messages, f"{which} split #{i + 1}"))
    return out


def right(answer: str, facts: list[str]) -> bool:
    """Every fact is in the answer: any of its "|"-separated spellings, ignoring case; a Latin or numeric
    spelling only as a whole word ("7" is not in "1976"), a Chinese one anywhere."""
    return bool(facts) and all(any(_mentions(answer, alt.strip()) for alt in fact.split("|") if alt.strip())
                               for fact in facts)


def _mentions(answer: str, fact: str) -> bool:
    import re

    if not fact.isascii():
        return fact.lower() in answer.lower()
    return re.search(rf"(?<![\w.]){re.escape(fact)}(?![\w]|\.\d)", answer, re.IGNORECASE) is not None
