"""Fit to this machine: the planner's choices within a budget for every catalogue model, goal and machine
class; the data's token lengths setting max_seq_length; a measured step time; the endpoint, the CLI and
the Door agreeing; the next setting after running out of memory; and a planned run that trains under an
address-space limit the unplanned default exceeds."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from engine.sizing.catalog import CATALOG, find
from engine.sizing.memory import estimate
from engine.sizing.planner import Budget, DataShape, PlanGoal, plan_settings
from engine.text.message import render

ROOT = Path(__file__).resolve().parent.parent
MACHINES = (Budget("gpu", 8, "RTX 3060 Ti", 1, "bf16"), Budget("gpu", 12, "RTX 3060", 1, "bf16"),
            Budget("gpu", 24, "RTX 4090", 1, "bf16"), Budget("gpu", 24, "2× RTX 3090", 2, "bf16"),
            Budget("cpu", 16, "RAM", 0, "fp32"))


@pytest.mark.parametrize("goal", ["fastest", "quality", "context"])
def test_every_plan_fits_its_budget_and_keeps_the_effective_batch(goal):
    for model in CATALOG:
        for budget in MACHINES:
            config = TrainConfig(model_name_or_path=model.name, per_device_train_batch_size=4,
                                 gradient_accumulation_steps=4)
            plan = plan_settings(model.shape, config, PlanGoal(goal, 16), None, budget)
            where = f"{model.name} on {budget.name} ({goal})"
            if not plan.fits:
                assert "nothing fits" in str(plan.reasons[-1]), where
                assert plan.memory.total_gb > budget.usable_gb, where
                continue
            assert plan.memory.total_gb <= budget.usable_gb, where
            # the estimator, asked again about the planned config, agrees
            from engine.sizing.fit import setting_for
            again = estimate(model.shape, setting_for(plan.config).__class__(
                **{**setting_for(plan.config).__dict__, "device": budget.kind, "precision": budget.precision}))
            assert again.total_gb == plan.memory.total_gb, where
            c = plan.config
            gpus = c.nproc_per_node if budget.gpus > 1 else 1
            assert c.per_device_train_batch_size * c.gradient_accumulation_steps * gpus == 16, where
            for reason in plan.reasons:  # every reason renders in both languages
                assert "{" not in render(reason, "en") and "{" not in render(reason, "zh"), where


def test_the_goals_choose_as_their_names_say():
    shape = find("Qwen2.5-1.5B-Instruct").shape
    config = TrainConfig(model_name_or_path="Qwen2.5-1.5B-Instruct")
    roomy = Budget("gpu", 80, "A100", 1, "bf16")
    assert plan_settings(shape, config, PlanGoal("quality"), None, roomy).config.finetuning_type == "full"
    fastest = plan_settings(shape, config, PlanGoal("fastest"), None, roomy).config
    assert fastest.finetuning_type == "lora" and not fastest.gradient_checkpointing
    small = Budget("gpu", 8, "RTX 3060 Ti", 1, "bf16")
    quality = plan_settings(shape, config, PlanGoal("quality"), None, small)
    assert quality.config.finetuning_type in ("lora", "qlora")  # full fine-tuning needs far more than 8 GiB
    assert "full fine-tuning would need" in " ".join(str(r) for r in quality.reasons)
    context = plan_settings(shape, config, PlanGoal("context"), None, small).config
    assert context.max_seq_length > fastest.max_seq_length and context.per_device_train_batch_size == 1
    # DPO keeps a frozen reference model: never full fine-tuning
    dpo = plan_settings(shape, config.replace(method="dpo"), PlanGoal("quality"), None, roomy)
    assert dpo.config.finetuning_type != "full" and "as its reference" in " ".join(str(r) for r in dpo.reasons)
    # an 8 GiB GPU cannot hold a 14B model even in 4 bits: the plan says so instead of pretending
    big = plan_settings(find("Qwen2.5-14B-Instruct").shape, config, PlanGoal("fastest"), None, small)
    assert not big.fits and "choose a smaller model" in str(big.reasons[-1])
    assert "选择更小的模型" in render(big.reasons[-1], "zh")
    with pytest.raises(ConfigError, match="goal 'biggest'"):
        PlanGoal("biggest")


def test_max_seq_length_covers_the_data_and_packing_follows_its_lengths():
    shape = find("SmolLM2-135M-Instruct").shape
    budget = Budget("cpu", 16, "RAM", 0, "fp32")
    lengths = tuple(sorted([100] * 90 + [300] * 9 + [2000]))  # one outlier past the 99th percentile
    plan = plan_settings(shape, TrainConfig(), PlanGoal("fastest", 8), DataShape(100, lengths), budget)
    assert plan.config.max_seq_length == 320  # 99% covered (300), rounded up to a multiple of 64
    assert plan.config.packing  # examples average far below max_seq_length
    assert "covers 99.0% of the examples (the longest has 2000 tokens)" in " ".join(str(r) for r in plan.reasons)
    full = DataShape(100, tuple([300] * 100))
    assert not plan_settings(shape, TrainConfig(), PlanGoal("fastest", 8), full, budget).config.packing


def test_the_planner_measures_a_step_and_the_door_endpoint_and_cli_agree(tiny_model, chat_file, tmp_path):
    from engine.access.door import Door
    from engine.planning.fit_plan import FitRequest

    door = Door.open(tmp_path / "outputs")
    config = TrainConfig(model_name_or_path=str(tiny_model), dataset=str(chat_file), precision="fp32")
    plan = door.fit_plan(FitRequest(config, PlanGoal("fastest", 4)))
    data = plan.to_dict()
    assert data["fits"] and data["time"]["source"] == "measured"
    assert data["time"]["step_seconds"] > 0 and data["time"]["steps"] >= 1
    assert data["data"]["examples"] == 12 and plan.config.max_seq_length == 64  # short rows: the smallest step
    assert any("measured on this machine" in r for r in data["reasons"])
    assert any("本机" in r for r in plan.to_dict("zh")["reasons"])
    # the CLI prints the same plan; --yaml is a config to train with
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "engine", "plan", str(tiny_model), str(chat_file), "--effective-batch",
                          "4", "--set", "precision=fp32", "--json", "--no-measure", "--outputs",
                          str(tmp_path / "outputs")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    assert cli["config"] == data["config"] and cli["time"]["source"] == "rough"


def test_running_out_of_memory_offers_the_planners_next_setting():
    from engine.sizing.oom import next_fit

    config = TrainConfig(model_name_or_path="Qwen2.5-7B-Instruct", per_device_train_batch_size=8,
                         gradient_accumulation_steps=2, max_seq_length=2048)
    message, fix = next_fit(config, on_gpu=True, precision="bf16")
    assert fix.get("gradient_checkpointing") is True or fix["per_device_train_batch_size"] < 8
    if "per_device_train_batch_size" in fix:
        assert fix["per_device_train_batch_size"] * fix["gradient_accumulation_steps"] == 16
    assert "fit planner's setting for a quarter less memory" in str(message)
    assert "内存少四分之一" in render(message, "zh")


@pytest.mark.skipif(sys.platform != "linux", reason="the address-space limit (RLIMIT_AS) is set the Linux way")
def test_a_planned_run_trains_under_a_memory_limit_the_default_exceeds(tiny_model, tmp_path):
    """The limit is on the process's address space, set before the training process starts; glibc keeps
    to two arenas so the reserve per thread does not depend on the machine's core count."""
    from engine.access.door import Door
    from engine.planning.fit_plan import FitRequest

    words = " ".join(f"word{i}" for i in range(200))  # about 700 tokens, nearly all of them trained
    data = tmp_path / "long.json"
    data.write_text(json.dumps([{"instruction": f"Repeat {i}.", "output": words} for i in range(16)]))
    default = TrainConfig(model_name_or_path=str(tiny_model), dataset=str(data), precision="fp32", max_steps=2,
                          per_device_train_batch_size=4, gradient_accumulation_steps=1, max_seq_length=1024,
                          trained_logits_only=False, report_to="none", compare_after_training=False)
    plan = Door.open(tmp_path / "plan").fit_plan(FitRequest(default, PlanGoal("fastest"), measure=False,
                                                            memory_gb=4))
    assert plan.settled.fits and plan.config.per_device_train_batch_size < 4 and plan.config.trained_logits_only

    def train(config: TrainConfig, name: str) -> tuple[int, str]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(config.to_yaml())

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (5 * 2**30, 5 * 2**30))

        env = {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "2"}
        done = subprocess.run([sys.executable, "-m", "engine", "train", str(path), "--outputs", str(tmp_path / name)],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, preexec_fn=limit)
        return done.returncode, done.stdout + done.stderr

    code, out = train(default, "default")
    assert code == 1 and "can't allocate memory" in out, out[-2000:]
    assert "the fit planner's setting for a quarter less memory" in out  # and the failure offers the next one
    code, out = train(plan.config, "planned")
    assert code == 0 and "completed: final loss" in out, out[-2000:]
    # one click in the Train tab (retry_planned): a new run with the failed one's settings and the planner's fix
    door = Door.open(tmp_path / "default")
    failed = door.manager.list_runs()[0]["run_id"]
    fix = door.manager.run(failed).status()["retry_with"]
    assert fix["per_device_train_batch_size"] < 4 and fix["trained_logits_only"] is True
    again = door.retry_planned(failed)
    assert door.manager.wait(again, timeout=300) == "completed"
    retried = door.manager.run(again).config()
    assert retried.per_device_train_batch_size == fix["per_device_train_batch_size"]
    assert retried.dataset == str(data) and retried.max_steps == 2


def test_plans_respect_each_methods_rules_and_the_machines_gpus():
    shape = find("Qwen2.5-7B-Instruct").shape
    card = Budget("gpu", 24, "RTX 4090", 1, "bf16")
    # KTO needs two answers per batch; GRPO's batch is a multiple of its generations
    kto = plan_settings(shape, TrainConfig(method="kto"), PlanGoal("fastest", 16), None, card).config
    assert kto.per_device_train_batch_size >= 2
    grpo = plan_settings(shape, TrainConfig(method="grpo", grpo_num_generations=4, per_device_train_batch_size=4),
                         PlanGoal("context", 16), None, card).config
    assert grpo.per_device_train_batch_size % 4 == 0
    # three GPUs cannot share an effective batch of 16 evenly: two of them do, and the batch stays 16
    three = Budget("gpu", 80, "3× A100", 3, "bf16")
    c = plan_settings(shape, TrainConfig(), PlanGoal("fastest", 16), None, three).config
    assert c.nproc_per_node == 2 and c.per_device_train_batch_size * c.gradient_accumulation_steps * 2 == 16
    # a form asking for 4 processes on a one-GPU machine: one process, the same effective batch
    c = plan_settings(shape, TrainConfig(nproc_per_node=4, per_device_train_batch_size=2,
                                         gradient_accumulation_steps=2), PlanGoal("fastest"), None, card).config
    assert c.nproc_per_node == 1 and c.per_device_train_batch_size * c.gradient_accumulation_steps == 16
    # knobs the chosen method refuses go back to their defaults, so the plan is a config that starts
    small = Budget("gpu", 12, "RTX 3060", 1, "bf16")
    c = plan_settings(shape, TrainConfig(lora_init="pissa", optim="galore_adamw"), PlanGoal("fastest"), None,
                      small).config
    assert c.finetuning_type == "qlora" and c.lora_init == "default" and c.optim == "adamw_torch_fused"
