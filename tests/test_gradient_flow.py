"""Gradient flow: per-block gradient norms at each logging step, in metrics.jsonl and the live heatmap. The
blocks' norms add up (in squares) to the Trainer's own total gradient norm, and match norms computed
independently on a tiny model."""

from __future__ import annotations

import math

import pytest

from engine.training.gradient_flow import block_grad_norms, block_of
from tests.conftest import run_to_end, tiny_config


def test_parameters_are_grouped_by_block():
    assert block_of("base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight") == "layer 03"
    assert block_of("model.layers.12.mlp.down_proj.weight") == "layer 12"
    assert block_of("model.embed_tokens.weight") == "embed"
    assert block_of("lm_head.weight") == "lm_head"
    assert block_of("model.norm.weight") == "norm"


def test_block_norms_match_norms_computed_independently(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    ids = torch.arange(1, 17).unsqueeze(0)
    model(input_ids=ids, labels=ids).loss.backward()
    norms = block_grad_norms(model)
    assert list(norms) == ["embed", "layer 00", "layer 01", "norm"]  # model order; the tied output layer is embed
    for block in norms:
        grads = [p.grad.flatten() for n, p in model.named_parameters() if block_of(n) == block]
        assert norms[block] == pytest.approx(torch.cat(grads).norm().item(), rel=1e-5)


def test_a_run_logs_the_norms_that_add_up_to_the_trainers_own(tiny_model, chat_file, tmp_path):
    from tabs.charts import gradient_figure

    config = tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=3, finetuning_type="full",
                         max_grad_norm=1e6)  # no clipping: the blocks then hold the whole measured norm
    _, run, state = run_to_end(config, tmp_path / "outputs")
    assert state == "completed", run.log_tail()
    steps = [m for m in run.metrics() if m.get("type") == "train"]
    assert [m["step"] for m in steps] == [1, 2, 3] and all("grad_norms" in m for m in steps)
    for event in steps:
        assert list(event["grad_norms"]) == ["embed", "layer 00", "layer 01", "norm"]
        total = math.sqrt(sum(v * v for v in event["grad_norms"].values()))
        assert total == pytest.approx(event["grad_norm"], rel=1e-3)
    figure = gradient_figure(run.metrics(), "en")
    heat = figure.data[0]
    assert list(heat.y) == ["embed", "layer 00", "layer 01", "norm"] and list(heat.x) == [1, 2, 3]
    assert heat.z[2][2] == pytest.approx(math.log10(steps[2]["grad_norms"]["layer 01"]))
    assert gradient_figure([{"step": 1, "loss": 1.0}], "en") is None  # nothing to draw before a logged norm
