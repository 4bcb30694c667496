"""Token lengths of samples through the training encoder itself (prompt, answer, total), and what a
max length would cut. The Explorer's statistics and preview read lengths only from here, so they are
exactly what training gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.data.encode import IGNORE, Encoded, EncodeStats, LossMask, conversation_examples, encode_texts
from engine.data.formats import Conversation, PlainText, Preference, Sample
from engine.errors import RowError


@dataclass
class SampleLength:
    prompt: int
    answer: int
    total: int
    truncated: bool  # some example is longer than max_len
    answer_lost: int  # trained tokens past max_len


def sample_examples(tok: Any, samples: list[Sample], mask: LossMask) -> list[list[Encoded] | RowError]:
    """The untruncated examples of each sample as training renders them. A preference pair is shown as
    its prompt followed by the chosen answer, then by the rejected one."""
    convs: list[Conversation] = []
    where: list[tuple[str, int, int]] = []  # (kind, index into convs or texts, count)
    texts: list[PlainText] = []
    for sample in samples:
        if isinstance(sample, Preference):
            where.append(("pair", len(convs), 2))
            for answer in (sample.chosen, sample.rejected):
                convs.append(Conversation([*sample.prompt, {"role": "assistant", "content": answer}], sample.tools))
        elif isinstance(sample, PlainText):
            where.append(("text", len(texts), 1))
            texts.append(sample)
        else:
            where.append(("conv", len(convs), 1))
            convs.append(sample)
    rendered = conversation_examples(tok, convs, mask) if convs else []
    out: list[list[Encoded] | RowError] = []
    for kind, index, count in where:
        if kind == "text":
            # chunks are made at any length; one "example" per text, as long as the whole text
            chunks = encode_texts(tok, [texts[index]], 1 << 30, EncodeStats())
            out.append(chunks)
            continue
        parts = rendered[index:index + count]
        error = next((p for p in parts if isinstance(p, RowError)), None)
        out.append(error if error is not None else [e for p in parts for e in p])
    return out


def measure(examples: list[Encoded], max_len: int, text: bool = False, pair: bool = False) -> SampleLength:
    """Lengths summed over a sample's examples; for a preference pair, those of its longer side."""
    if pair and examples:
        return max((measure([e], max_len) for e in examples), key=lambda m: m.total)
    prompt = answer = lost = 0
    truncated = False
    for e in examples:
        trained = [label != IGNORE for label in e.labels]
        answer += sum(trained)
        prompt += len(e) - sum(trained)
        if len(e) > max_len:
            truncated = True
            lost += 0 if text else sum(trained[max_len:])  # pre-training text is chunked, never cut
    return SampleLength(prompt, answer, prompt + answer, truncated, lost)
