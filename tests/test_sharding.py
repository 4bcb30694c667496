"""Sharded runs across processes: DeepSpeed ZeRO-2/3 (its CPU engine runs here, over 2 processes) and PyTorch
FSDP2 (accelerate shards with FSDP on GPUs only: refused on a CPU, its generated config checked by the
libraries' own parsers), the configs saved in the run's folder, and the memory per GPU of each stage."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace

import pytest

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.models.levers import Machine, resolve_levers
from engine.sizing.catalog import CATALOG
from engine.sizing.memory import Setting, estimate
from engine.training.sharding import deepspeed_config, fsdp_config, write_engine_config
from tests.conftest import stop_after, tiny_config

DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
needs_deepspeed = pytest.mark.skipif(not DEEPSPEED, reason="deepspeed is not installed (make setup-dev installs it)")


def numbers(tmp_path):
    rows = [{"instruction": f"Say the number {i}.", "input": "",
             "output": " ".join([f"The number is {i}."] * (1 + i % 5))} for i in range(32)]
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps(rows))
    return path


@pytest.mark.slow
@needs_deepspeed
def test_deepspeed_zero3_with_offload_trains_stops_and_resumes_as_one_process_does(tiny_model, tmp_path):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from engine.runs.queue import RunManager

    manager = RunManager(tmp_path / "outputs")
    one = tiny_config(tiny_model, numbers(tmp_path), tmp_path / "o", per_device_train_batch_size=4, max_steps=6,
                      learning_rate=2e-2, save_steps=100)
    sharded = one.replace(per_device_train_batch_size=2, nproc_per_node=2, distributed="deepspeed",
                          deepspeed_stage=3, offload="optimizer")
    single = manager.run(manager.submit(one))
    assert manager.wait(single.run_id, timeout=300) == "completed", single.log_tail(40)
    run = manager.run(manager.submit(sharded))
    # stopped part-way (a ZeRO checkpoint of both processes' shards), then resumed to the end
    assert stop_after(manager, run.run_id, 2, timeout=400) == "stopped", run.log_tail(60)
    stopped_at = run.status()["step"]
    assert stopped_at < 6 and [p.name for p in run.checkpoints()] == [f"checkpoint-{stopped_at}"]
    manager.resume(run.run_id)
    assert manager.wait(run.run_id, timeout=400) == "completed", run.log_tail(60)
    log = run.log_path.read_text(encoding="utf-8")
    assert ("sharding: DeepSpeed ZeRO-3, optimizer offloaded to host memory; engine config saved as "
            "ds_config.json") in log
    assert "weights partitioned across 2 processes" in log  # ZeRO-3 really split the model
    saved = json.loads((run.path / "ds_config.json").read_text())
    assert saved["zero_optimization"]["stage"] == 3 and saved["train_micro_batch_size_per_gpu"] == 2
    losses = {m["step"]: m["loss"] for m in run.metrics() if m.get("type") == "train" and "loss" in m}
    alone = {m["step"]: m["loss"] for m in single.metrics() if m.get("type") == "train" and "loss" in m}
    assert sorted(losses) == list(range(1, 7))
    # the same global batch: the same curve, across the stop and the resume too
    for step, loss in alone.items():
        assert losses[step] == pytest.approx(loss, rel=2e-3), (step, stopped_at, loss, losses[step])
    # the final adapter is gathered whole from the shards: it loads in plain PEFT, of the full shapes
    weights = load_file(run.final_path / "adapter_model.safetensors")
    reference = load_file(single.final_path / "adapter_model.safetensors")
    assert weights.keys() == reference.keys()
    assert all(weights[k].shape == reference[k].shape for k in weights)
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run.final_path)


@needs_deepspeed
def test_the_deepspeed_configs_pass_deepspeeds_own_parser():
    from deepspeed.runtime.config import DeepSpeedConfig

    # parsed as one process parses it (its batch check multiplies by the processes it finds: 1 here)
    base = TrainConfig(per_device_train_batch_size=2, gradient_accumulation_steps=3, distributed="deepspeed")
    for stage, offload, precision in ((2, "none", "bf16"), (2, "optimizer", "fp16"), (3, "optimizer+params", "bf16")):
        body = deepspeed_config(base.replace(deepspeed_stage=stage, offload=offload), precision)
        parsed = DeepSpeedConfig(body)
        assert parsed.zero_optimization_stage == stage and parsed.train_batch_size == 6
        assert parsed.bfloat16_config.enabled == (precision == "bf16")
        assert parsed.float16_config.enabled == (precision == "fp16")
        assert (parsed.zero_config.offload_optimizer is not None) == (offload != "none")
        assert (parsed.zero_config.offload_param is not None) == (offload == "optimizer+params")


def test_the_fsdp_config_passes_the_trainers_and_accelerates_parsers(tmp_path):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from transformers import TrainingArguments

    for stage, offload in ((2, "none"), (3, "optimizer")):
        config = TrainConfig(distributed="fsdp", deepspeed_stage=stage, offload=offload, gradient_checkpointing=True,
                             nproc_per_node=2)
        # what a GPU run saves in its folder, read back as the record of what ran
        line = write_engine_config(config, tmp_path, "bf16")
        assert line.startswith("sharding: FSDP2") and line.endswith("engine config saved as fsdp_config.json")
        body = json.loads((tmp_path / "fsdp_config.json").read_text())
        assert body == fsdp_config(config)
        args = TrainingArguments(output_dir=str(tmp_path), fsdp=True, fsdp_config=dict(body), use_cpu=True)
        plugin = FullyShardedDataParallelPlugin(**args.fsdp_plugin_args)
        assert plugin.fsdp_version == 2 and plugin.reshard_after_forward == (stage == 3)
        offloads = type(plugin.cpu_offload).__name__ == "CPUOffloadPolicy"
        assert offloads == (offload != "none") and plugin.activation_checkpointing


def test_what_a_cpu_or_the_config_cannot_shard_is_refused_with_the_fix():
    two = TrainConfig(nproc_per_node=2)
    with pytest.raises(ConfigError, match="accelerate shards with FSDP on GPUs only"):
        resolve_levers(two.replace(distributed="fsdp"), Machine())
    resolve_levers(two.replace(distributed="fsdp"), Machine(cuda=True, capability=(8, 6)))
    resolve_levers(TrainConfig(distributed="fsdp"), Machine())  # one process shards nothing: nothing to refuse
    with pytest.raises(ConfigError, match="pip install deepspeed"):
        resolve_levers(two.replace(distributed="deepspeed"), Machine(deepspeed=False))
    with pytest.raises(ConfigError, match="optimizer\\+params needs deepspeed_stage 3"):
        two.replace(distributed="deepspeed", offload="optimizer+params", deepspeed_stage=2)
    with pytest.raises(ConfigError, match="which QLoRA keeps quantized"):
        two.replace(distributed="fsdp", finetuning_type="qlora")


def test_the_estimator_gives_the_memory_per_gpu_of_each_stage():
    shape = next(m.shape for m in CATALOG if m.name == "Qwen2.5-1.5B-Instruct")
    ddp = Setting("full", "sft", 1024, 1, True, "bf16", 8, "gpu", trained_logits=True)
    alone = estimate(shape, ddp)
    zero2 = estimate(shape, replace(ddp, shards=4))
    zero3 = estimate(shape, replace(ddp, shards=4, zero_stage=3))
    assert zero2.weights_gb == alone.weights_gb  # stage 2 keeps every weight on every GPU
    assert zero2.trainable_gb == pytest.approx(alone.trainable_gb / 4, abs=0.01)  # gradients and moments split
    assert zero3.weights_gb == pytest.approx(alone.weights_gb / 4 + 2 * alone.weights_gb / shape.layers, abs=0.02)
    offloaded = estimate(shape, replace(ddp, shards=4, zero_stage=3, host="optimizer+params"))
    assert offloaded.total_gb < zero3.total_gb < zero2.total_gb < alone.total_gb
    assert estimate(shape, replace(ddp, shards=4, zero_stage=3, sharding="fsdp", host="optimizer")).weights_gb == \
        offloaded.weights_gb  # FSDP2's offload moves the weights with the optimizer state
