"""Packing keeps samples apart: the packed loss equals the unpacked loss on the same samples."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from engine.data.collate import PackedCollator, PaddedCollator, pack
from engine.data.encode import EncodeStats, LossMask, encode_conversation
from engine.data.formats import Conversation


def _examples(tok):
    stats = EncodeStats()
    out = []
    for i in range(6):
        conv = Conversation([{"role": "user", "content": f"Question {i}: " + "why " * i},
                             {"role": "assistant", "content": f"Answer {i} " + "because " * (i + 1)}])
        out += encode_conversation(tok, conv, 256, LossMask(), stats)
    return out


def _token_loss_sum(model, batch) -> tuple[float, int]:
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "num_real_tokens")}
        logits = model(**inputs, use_cache=False).logits.float()
    labels = batch["labels"][:, 1:]
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                               ignore_index=-100, reduction="sum")
    return losses.item(), int((labels != -100).sum())


def test_first_fit_packing_respects_the_limit(tiny_tokenizer):
    examples = _examples(tiny_tokenizer)
    bins = pack(examples, 128)
    assert sorted(len(e) for b in bins for e in b) == sorted(len(e) for e in examples)
    assert all(sum(len(e) for e in b) <= 128 for b in bins)
    assert len(bins) < len(examples)


def test_packed_loss_equals_unpacked_loss(tiny_model, tiny_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32, attn_implementation="sdpa").eval()
    examples = _examples(tiny_tokenizer)
    pad = tiny_tokenizer.pad_token_id
    unpacked = [_token_loss_sum(model, PaddedCollator(pad)([e])) for e in examples]
    bins = pack(examples, 160)
    assert any(len(b) > 1 for b in bins), "the test needs rows holding several samples"
    packed = [_token_loss_sum(model, PackedCollator(pad)(bins))]
    total_u, count_u = sum(s for s, _ in unpacked), sum(n for _, n in unpacked)
    total_p, count_p = sum(s for s, _ in packed), sum(n for _, n in packed)
    assert count_u == count_p
    assert abs(total_u / count_u - total_p / count_p) < 1e-4


def test_packed_batch_has_no_attention_mask_and_restarting_positions(tiny_tokenizer):
    examples = _examples(tiny_tokenizer)[:3]
    batch = PackedCollator(0)([examples])
    assert "attention_mask" not in batch  # transformers only isolates packed samples without one
    assert batch["num_real_tokens"].item() == sum(len(e) for e in examples)  # what tokens/s counts
    positions = batch["position_ids"][0].tolist()
    assert positions.count(0) == 3
    starts = [i for i, p in enumerate(positions) if p == 0]
    assert all(batch["labels"][0, s] == -100 for s in starts)
