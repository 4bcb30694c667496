"""The output layer computed only at trained tokens gives the model's own loss and gradients, padded and
packed, through LoRA, chunked or not; a run with it trains exactly as a run without it."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_to_end, tiny_config
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from engine.data.collate import PackedCollator, PaddedCollator, pack
from engine.data.encode import EncodeStats, LossMask, encode_conversation
from engine.data.formats import Conversation
from engine.training import trained_logits
from engine.training.trained_logits import supported, trained_token_loss


def _examples(tok):
    stats = EncodeStats()
    out = []
    for i in range(5):
        conv = Conversation([{"role": "user", "content": f"Question {i}: " + "why " * (3 * i)},
                             {"role": "assistant", "content": f"Answer {i} " + "because " * (i + 1)}])
        out += encode_conversation(tok, conv, 256, LossMask(), stats)
    return out


def _lora(tiny_model):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32, attn_implementation="sdpa")
    lora = LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0, init_lora_weights=False)
    model = get_peft_model(model, lora)
    return model.train()


def _loss_and_grads(model, batch, fast: bool, num_items=None):
    model.zero_grad()
    if fast:
        loss = trained_token_loss(model, batch, num_items)
    else:
        loss = model(**batch, use_cache=False, **({"num_items_in_batch": num_items} if num_items else {})).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


@pytest.mark.parametrize("layout", ["padded", "packed"])
@pytest.mark.parametrize("chunked", [False, True])
def test_same_loss_and_gradients_as_the_full_output_layer(tiny_model, tiny_tokenizer, monkeypatch, layout, chunked):
    if chunked:  # a few rows per chunk: several checkpointed chunks on a tiny batch
        monkeypatch.setattr(trained_logits, "CHUNK_ELEMENTS", 7 * len(tiny_tokenizer))
    model = _lora(tiny_model)
    assert supported(model)
    examples = _examples(tiny_tokenizer)
    pad = tiny_tokenizer.pad_token_id
    batch = PaddedCollator(pad)(examples) if layout == "padded" else PackedCollator(pad)(pack(examples, 96))
    batch.pop("num_real_tokens", None)  # the trainer removes it before the forward pass
    trained = int((batch["labels"][:, 1:] != -100).sum())
    assert trained < batch["labels"].numel() * 0.8, "the test needs untrained positions to skip"
    for num_items in (None, torch.tensor(trained * 3)):  # with gradient accumulation the divisor is larger
        full_loss, full_grads = _loss_and_grads(model, batch, fast=False, num_items=num_items)
        fast_loss, fast_grads = _loss_and_grads(model, batch, fast=True, num_items=num_items)
        assert fast_loss == pytest.approx(full_loss, rel=1e-5)
        assert fast_grads.keys() == full_grads.keys() and len(fast_grads) > 0
        for name, grad in full_grads.items():
            assert torch.allclose(fast_grads[name], grad, rtol=1e-4, atol=1e-6), name


def test_a_batch_with_nothing_to_learn_gives_zero_and_still_backpropagates(tiny_model, tiny_tokenizer):
    model = _lora(tiny_model)
    batch = PaddedCollator(tiny_tokenizer.pad_token_id)(_examples(tiny_tokenizer)[:2])
    batch["labels"][:] = -100
    loss = trained_token_loss(model, batch)
    loss.backward()
    assert loss.item() == 0.0


def test_model_families_with_a_scaled_output_are_left_to_their_own_loss(tiny_model):
    model = _lora(tiny_model)
    model.get_base_model().config.final_logit_softcapping = 30.0
    assert not supported(model)


def _train_events(tiny_model, chat_file, outputs, **overrides):
    config = tiny_config(tiny_model, chat_file, outputs, gradient_accumulation_steps=2, max_steps=4, **overrides)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed"
    events = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    return [e for e in events if e.get("type") == "train"]


@pytest.mark.parametrize("packing", [False, True])
def test_run_with_and_without_it_trains_the_same(tiny_model, chat_file, tmp_path, monkeypatch, packing):
    calls = []
    monkeypatch.setattr(trained_logits, "trained_token_loss",
                        lambda *a, **k: calls.append(1) or trained_token_loss(*a, **k))
    runs = {flag: _train_events(tiny_model, chat_file, tmp_path / str(flag), trained_logits_only=flag, packing=packing)
            for flag in (True, False)}
    assert len(calls) == 8  # 4 steps of 2 micro-batches took the trained-token path, with the flag only
    losses = {flag: [e["loss"] for e in events] for flag, events in runs.items()}
    assert len(losses[True]) == 4
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    assert losses[True][-1] < losses[True][0]
    padding = [e["padding_share"] for e in runs[True]]
    # the 12 rows differ by a token or two: little padding unpacked, and packed rows are nearly full
    assert all(0 <= share < 0.25 for share in padding), padding
    assert all(e["tokens_per_s"] > 0 for e in runs[True])
