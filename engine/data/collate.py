"""Batching: padded batches, or packed rows whose samples stay apart.

A packed row concatenates several samples and restarts `position_ids` at 0 for each. transformers
turns restarting positions into a block-diagonal attention mask only when no attention_mask and no
KV cache are passed, so packed batches carry no attention_mask and training runs with
`use_cache=False`. The first token of each sample is never a target, exactly as when unpacked.
"""

from __future__ import annotations

from typing import Any

import torch

from engine.data.encode import IGNORE, Encoded

REAL_TOKENS = "num_real_tokens"


def pack(examples: list[Encoded], max_len: int) -> list[list[Encoded]]:
    """First-fit decreasing bin packing of samples into rows of at most max_len tokens."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]))
    bins: list[list[int]] = []
    room: list[int] = []
    for i in order:
        size = len(examples[i])
        for b, free in enumerate(room):
            if size <= free:
                bins[b].append(i)
                room[b] -= size
                break
        else:
            bins.append([i])
            room.append(max_len - size)
    # keep each row's samples in their original order, and rows in order of their first sample
    return [[examples[i] for i in sorted(b)] for b in sorted(bins, key=min)]


class PaddedCollator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[Encoded]) -> dict[str, torch.Tensor]:
        width = max(len(e) for e in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, e in enumerate(batch):
            n = len(e)
            ids[row, :n] = torch.tensor(e.input_ids)
            labels[row, :n] = torch.tensor(e.labels)
            mask[row, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


class PackedCollator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[list[Encoded]]) -> dict[str, torch.Tensor]:
        rows = [self._row(samples) for samples in batch]
        width = max(len(r[0]) for r in rows)
        out: dict[str, Any] = {"input_ids": [], "labels": [], "position_ids": []}
        for ids, labels, positions in rows:
            gap = width - len(ids)
            # padding forms its own short "sample" (positions from 0) that nothing attends to
            out["input_ids"].append(ids + [self.pad_id] * gap)
            out["labels"].append(labels + [IGNORE] * gap)
            out["position_ids"].append(positions + list(range(gap)))
        batch = {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}
        # padding cannot be told from real tokens afterwards (no attention_mask, and the pad id is often
        # the end-of-turn token): the trainer counts tokens from this and removes it before the forward pass
        batch[REAL_TOKENS] = torch.tensor(sum(len(r[0]) for r in rows))
        return batch

    @staticmethod
    def _row(samples: list[Encoded]) -> tuple[list[int], list[int], list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for e in samples:
            ids += e.input_ids
            labels += [IGNORE] + e.labels[1:]
            positions += list(range(len(e)))
        return ids, labels, positions


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[Any]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.items[i]
