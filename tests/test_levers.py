"""The GPU levers (attention kernel, Liger kernels, activation offload, torch.compile, TF32): refused with the
reason where this machine cannot use them, chosen where it can, reaching the Trainer's arguments and the
model, and counted by the memory estimator. A CPU machine runs the refusals and the kernels a CPU has for
real; for GPU machines the decision is checked against their description."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.models.levers import Machine, resolve_levers
from engine.sizing.catalog import CATALOG
from engine.sizing.memory import Setting, estimate
from engine.sizing.planner import Budget, PlanGoal, plan_settings
from tests.conftest import run_to_end, tiny_config

RTX_4090 = Machine(cuda=True, capability=(8, 9), flash_attn=True, liger=True)
T4 = Machine(cuda=True, capability=(7, 5), flash_attn=True, liger=True)
CPU = Machine()


def test_each_gpu_lever_is_refused_on_a_cpu_with_the_reason_in_both_languages(tmp_path):
    from engine.access.door import Door

    door = Door.open(tmp_path / "outputs")
    asked = {"attn_implementation": "flash_attention_2", "use_liger_kernel": True, "activation_offload": True}
    needles = {"attn_implementation": ("Ampere", "Ampere"), "use_liger_kernel": ("Triton GPU kernels", "Triton GPU"),
               "activation_offload": ("host memory already", "主机内存")}
    for name, value in asked.items():
        config = TrainConfig(dataset="samples/identity.json", gradient_checkpointing=True, **{name: value})
        with pytest.raises(ConfigError) as caught:
            door.start(config)
        english, chinese = needles[name]
        assert name in str(caught.value) and english in str(caught.value)
        assert chinese in caught.value.render("zh")
    assert door.manager.list_runs() == []  # nothing was queued


def test_the_levers_follow_the_gpu_they_run_on():
    plain = TrainConfig()
    assert resolve_levers(plain, CPU).attention == "sdpa" and not resolve_levers(plain, CPU).tf32
    fast = resolve_levers(plain, RTX_4090)
    assert (fast.attention, fast.tf32, fast.liger) == ("flash_attention_2", True, False)
    assert resolve_levers(plain, replace(RTX_4090, flash_attn=False)).attention == "sdpa"
    assert resolve_levers(plain, T4).attention == "sdpa" and not resolve_levers(plain, T4).tf32
    with pytest.raises(ConfigError, match="compute capability 8.0 or newer, and this GPU has 7.5"):
        resolve_levers(plain.replace(attn_implementation="flash_attention_2"), T4)
    with pytest.raises(ConfigError, match="pip install flash-attn"):
        resolve_levers(plain.replace(attn_implementation="flash_attention_2"), replace(RTX_4090, flash_attn=False))
    with pytest.raises(ConfigError, match="pip install liger-kernel"):
        resolve_levers(plain.replace(use_liger_kernel=True), replace(RTX_4090, liger=False))
    with pytest.raises(ConfigError, match="turn gradient_checkpointing on"):
        resolve_levers(plain.replace(activation_offload=True), RTX_4090)
    with pytest.raises(ConfigError, match="5.23 or newer"):  # where the installed transformers has no offload
        resolve_levers(plain.replace(activation_offload=True, gradient_checkpointing=True),
                       replace(RTX_4090, offload_hook=False))
    every = resolve_levers(plain.replace(use_liger_kernel=True, activation_offload=True, gradient_checkpointing=True,
                                         torch_compile=True), RTX_4090, model_type="qwen2")
    assert (every.liger, every.offload, every.compile) == (True, True, True)
    assert "Liger kernels, activation offload, torch.compile, TF32 matmuls" in every.describe()


def test_the_levers_reach_the_trainers_arguments(monkeypatch, tmp_path):
    from transformers import TrainingArguments

    from engine.training.arguments import training_kwargs

    config = TrainConfig(use_liger_kernel=True, activation_offload=True, gradient_checkpointing=True,
                         torch_compile=True)
    monkeypatch.setattr(Machine, "here", classmethod(lambda cls: RTX_4090))
    kwargs = training_kwargs(config, tmp_path, "bf16", False)
    assert kwargs["activation_checkpointing_kwargs"] == {"use_reentrant": False, "offload": True}
    assert (kwargs["use_liger_kernel"], kwargs["torch_compile"], kwargs["tf32"]) == (True, True, True)
    monkeypatch.setattr(Machine, "here", classmethod(lambda cls: CPU))
    kwargs = training_kwargs(config.replace(use_liger_kernel=False, activation_offload=False), tmp_path, "fp32", False)
    args = TrainingArguments(**kwargs)  # what this machine builds, accepted by transformers itself
    assert args.activation_checkpointing and args.activation_checkpointing_kwargs == {"use_reentrant": False}
    assert args.torch_compile and "tf32" not in kwargs


def test_the_attention_kernel_reaches_the_model_and_eager_trains_to_the_same_loss(tiny_model, chat_file, tmp_path):
    from engine.models.load import load_model
    from engine.models.resolve import resolve_model

    losses = {}
    for kernel in ("sdpa", "eager"):
        config = tiny_config(tiny_model, chat_file, tmp_path / kernel, attn_implementation=kernel, max_steps=3,
                             packing=True)
        _, run, state = run_to_end(config, tmp_path / kernel)
        assert state == "completed", run.status().get("error")
        assert f"attention {kernel}" in run.log_path.read_text(encoding="utf-8")
        losses[kernel] = [e["loss"] for e in run.metrics() if "loss" in e]
        model = load_model(resolve_model(config, log=lambda *_: None), config, "fp32")
        assert model.config._attn_implementation == kernel
    assert losses["eager"] == pytest.approx(losses["sdpa"], rel=1e-3)  # the same model, another kernel


def test_the_estimator_counts_each_lever():
    shape = next(m.shape for m in CATALOG if m.name == "Qwen2.5-1.5B-Instruct")
    plain = Setting("lora", "sft", 2048, 4, True, "bf16", 16, "gpu")
    base = estimate(shape, plain)
    liger = estimate(shape, replace(plain, liger=True))
    # the whole logits (2048 × 4 positions × 151,936 × 4 bytes × 5 copies) are what Liger does not hold
    assert base.activations_gb - liger.activations_gb > 20
    offload = estimate(shape, replace(plain, offload=True))
    kept = shape.layers * 4 * 2048 * shape.hidden * 2 / 2**30  # the checkpointed inputs, bf16
    assert base.activations_gb - offload.activations_gb == pytest.approx(kept * (1 - 2 / shape.layers), abs=0.02)
    assert estimate(shape, replace(plain, offload=True, device="cpu")).activations_gb == \
        estimate(shape, replace(plain, device="cpu")).activations_gb  # no device memory to free on a CPU
    everything = estimate(shape, replace(plain, liger=True, offload=True, trained_logits=True))
    assert everything.total_gb <= 0.5 * base.total_gb
    no_ckpt = replace(plain, gradient_checkpointing=False, batch=1, max_len=4096)
    eager = estimate(shape, replace(no_ckpt, attention="eager")).activations_gb
    scores = shape.layers * shape.heads * 4096 * 4096 * 2 / 2**30  # every layer's softmaxed scores, bf16
    assert eager - estimate(shape, no_ckpt).activations_gb == pytest.approx(scores, abs=0.02)


def test_the_planner_turns_liger_on_where_it_runs():
    shape = next(m.shape for m in CATALOG if m.name == "Qwen2.5-1.5B-Instruct")
    config = TrainConfig(max_seq_length=4096, per_device_train_batch_size=4)
    without = plan_settings(shape, config, PlanGoal("fastest", 16), None, Budget("gpu", 24, "RTX 4090", 1, "bf16"))
    assert not without.config.use_liger_kernel
    if not _liger_installed():
        pytest.skip("liger-kernel is not installed: its own table of model families decides")
    found = plan_settings(shape, config, PlanGoal("fastest", 16), None,
                          Budget("gpu", 24, "RTX 4090", 1, "bf16", liger=True))
    assert found.config.use_liger_kernel and any("Liger" in str(r) for r in found.reasons)
    assert found.memory.total_gb < without.memory.total_gb


def test_the_environment_tab_says_where_liger_runs():
    from engine.env.readiness import readiness

    checks = {c["check"]: c for c in readiness([], probe_hubs=False)}
    assert checks["Liger kernels"]["ok"] is None and "NVIDIA GPU" in checks["Liger kernels"]["reason"]


def _liger_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None
