"""The memory estimator: hand computations, published figures, the catalogue, and what fits here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.sizing.catalog import CATALOG, find
from engine.sizing.fit import estimate_for, machine_table, model_shape
from engine.sizing.memory import NF4_BYTES, GiB, Setting, estimate, nearest_fit, verdict
from engine.sizing.shape import ModelShape, shape_from_config

LLAMA2_7B = ModelShape(32, 4096, 11008, 32, 32, 32000)


def test_parameter_counts_match_published_sizes():
    published = {"Qwen2.5-7B-Instruct": 7.62, "Qwen3-8B": 8.19, "Llama-3.1-8B-Instruct": 8.03,
                 "SmolLM2-135M-Instruct": 0.135, "Qwen2.5-0.5B-Instruct": 0.49, "GLM-4-9B-Chat": 9.40}
    for name, billions in published.items():
        assert find(name).shape.params / 1e9 == pytest.approx(billions, rel=0.02), name
    assert LLAMA2_7B.params / 1e9 == pytest.approx(6.74, rel=0.01)


def test_weights_and_states_by_hand():
    shape = ModelShape(layers=2, hidden=64, intermediate=128, heads=4, kv_heads=2, vocab=1000)
    # q 64x64, k 64x32, v 64x32, o 64x64, gate/up 64x128, down 128x64 per layer
    linear = 2 * (64 * 64 + 64 * 32 * 2 + 64 * 64 + 64 * 128 * 3)
    assert shape.linear_params == linear and shape.params == linear + 2 * 1000 * 64 + 5 * 64
    assert shape.lora_params(8) == 2 * 8 * ((64 + 64) + (64 + 32) * 2 + (64 + 64) + (64 + 128) * 3)
    full = estimate(shape, Setting("full", precision="bf16"))
    assert full.weights_gb == round(shape.params * 4 / GiB, 2)  # fp32 master weights
    assert full.trainable_gb == round(shape.params * 12 / GiB, 2)  # fp32 grads + two AdamW moments
    lora = estimate(shape, Setting("lora", precision="bf16"))
    assert lora.weights_gb == round(shape.params * 2 / GiB, 2) and lora.trainable_params == shape.lora_params(8)
    q4 = estimate(shape, Setting("qlora4", precision="bf16"))
    other = shape.params - shape.linear_params
    assert q4.weights_gb == round((shape.linear_params * NF4_BYTES + other * 2) / GiB, 2)


def test_published_7b_figures():
    short = {"max_len": 512, "batch": 1, "gradient_checkpointing": True}
    lora = estimate(find("Qwen2.5-7B-Instruct").shape, Setting("lora", **short)).total_gb
    assert lora == pytest.approx(16, rel=0.15)  # "7B LoRA in bf16 needs about 16 GB"
    qlora = estimate(LLAMA2_7B, Setting("qlora4", **short)).total_gb
    assert qlora == pytest.approx(6, rel=0.2)  # "7B QLoRA-4 about 6 GB at short lengths"
    assert estimate(LLAMA2_7B, Setting("full", **short)).total_gb > 100  # full fp32-master AdamW: 16 B/param


def test_more_memory_for_longer_batches_and_less_with_checkpointing():
    shape = find("Qwen3-0.6B").shape
    base = estimate(shape, Setting("lora", max_len=1024, batch=2)).total_gb
    assert estimate(shape, Setting("lora", max_len=2048, batch=2)).total_gb > base
    assert estimate(shape, Setting("lora", max_len=1024, batch=4)).total_gb > base
    assert estimate(shape, Setting("lora", max_len=1024, batch=2, gradient_checkpointing=True)).total_gb < base
    assert estimate(shape, Setting("lora", stage="dpo", max_len=1024, batch=2)).total_gb > base


def test_nearest_fit_and_verdicts():
    shape = find("Qwen2.5-7B-Instruct").shape
    setting = Setting("lora", max_len=2048, batch=4)
    assert verdict(estimate(shape, setting).total_gb, 24) == "does not fit"
    changed, result = nearest_fit(shape, setting, 24)
    assert changed.gradient_checkpointing and result.total_gb <= 0.85 * 24
    assert nearest_fit(find("Qwen2.5-14B-Instruct").shape, Setting("full"), 4) is None
    assert verdict(9, 10) == "tight" and verdict(5, 10) == "fits"


def test_shapes_from_real_configs(tiny_model: Path, tmp_path: Path):
    shape = model_shape(str(tiny_model))
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert shape.params == sum(p.numel() for p in model.parameters())  # computed from config.json alone
    glm = shape_from_config({"hidden_size": 4096, "num_layers": 28, "num_attention_heads": 32,
                             "multi_query_group_num": 2, "ffn_hidden_size": 13696, "padded_vocab_size": 65024})
    assert glm.kv_heads == 2 and glm.params / 1e9 == pytest.approx(6.24, rel=0.02)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{oops")
    with pytest.raises(ModelError, match="config.json is not valid JSON"):
        model_shape(str(tmp_path / "bad"))
    with pytest.raises(ModelError, match="not in TuneDesk's catalogue"):
        model_shape("someone/unknown-model")


def test_this_machine_can_train_the_bundled_model():
    result = estimate_for("HuggingFaceTB/SmolLM2-135M-Instruct", Setting("lora", max_len=512, batch=2,
                                                                         precision="auto"))
    assert result["verdict"] == "fits" and result["setting"]["precision"] in ("fp32", "bf16")
    table = machine_table()
    assert len(table) == len(CATALOG)
    smol = next(r for r in table if r["model"] == "SmolLM2-135M-Instruct")
    assert smol["lora"]["verdict"] == "fits"
    json.dumps(table)  # plain data for the API


def test_the_estimator_bounds_the_logits_as_the_trained_token_loss_chunks_them():
    from engine.sizing.memory import LOGIT_CHUNK
    from engine.training.trained_logits import CHUNK_ELEMENTS

    assert LOGIT_CHUNK == CHUNK_ELEMENTS  # the estimator's bound is the loss's own chunk
    shape = find("Qwen3-0.6B").shape  # a 152k vocabulary: at 4096 tokens the full logits are 2.3 G values
    full = estimate(shape, Setting("lora", "sft", 4096, 1, True, "bf16", 8, "gpu"))
    chunked = estimate(shape, Setting("lora", "sft", 4096, 1, True, "bf16", 8, "gpu", trained_logits=True))
    assert full.activations_gb - chunked.activations_gb > 8
