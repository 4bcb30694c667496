"""Training runs on a tiny real model: each method, the run directory, stop/resume, failures."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.errors import RunError
from engine.runs.queue import RunManager
from engine.runs.rundir import RunDir
from tests.conftest import run_to_end, stop_after, tiny_config


def losses(run: RunDir) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in run.metrics() if "loss" in m}


def assert_learns(run: RunDir) -> None:
    """The mean loss of the last three logged steps is below that of the first three."""
    steps = list(losses(run).values())
    assert sum(steps[-3:]) / 3 < sum(steps[:3]) / 3, steps


def test_sft_lora_run_learns_and_leaves_a_complete_directory(tiny_model, chat_file, outputs):
    config = tiny_config(tiny_model, chat_file, outputs, max_steps=12, save_steps=6, val_size=2, eval_steps=6)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.log_tail()
    names = {p.name for p in run.path.iterdir()}
    assert {"config.yaml", "status.json", "metrics.jsonl", "train.log", "data_report.json", "final"} <= names
    assert {"checkpoint-6", "checkpoint-12"} <= names
    status = run.status()
    assert status["step"] == status["max_steps"] == 12 and status["progress"] == 1.0
    assert status["started_at"] <= status["ended_at"] and math.isfinite(status["final_loss"])
    assert_learns(run)
    assert any("eval_loss" in m for m in run.metrics())
    event = next(m for m in run.metrics() if "loss" in m)
    assert {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"} <= set(event)
    report = json.loads((run.path / "data_report.json").read_text())
    assert report["train_examples"] == 10 and report["val_examples"] == 2
    assert run.config() == config.replace(output_dir=str(outputs.resolve()))


def test_auto_precision_trains_in_bf16_where_this_cpu_runs_it_fast(tiny_model, chat_file, outputs):
    """The path `precision: auto` takes on CPUs with AVX-512 BF16: a bf16 run that learns and saves."""
    from engine.models.precision import cpu_bf16_is_faster

    if torch.cuda.is_available() or not cpu_bf16_is_faster():
        pytest.skip("this CPU runs bf16 slower than fp32 (measured: no AVX-512 BF16, or no faster with it), so auto "
                    "picks fp32 here")
    config = tiny_config(tiny_model, chat_file, outputs, precision="auto", max_steps=12)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.log_tail()
    assert "precision bf16" in run.log_path.read_text()
    assert_learns(run)
    from safetensors.torch import load_file

    assert load_file(run.final_path / "adapter_model.safetensors")  # a complete adapter


def test_lora_result_reloads_in_a_fresh_process(tiny_model, chat_file, outputs):
    _, run, state = run_to_end(tiny_config(tiny_model, chat_file, outputs, max_steps=4), outputs)
    assert state == "completed"
    script = (
        "import sys, torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "from peft import PeftModel\n"
        f"base = AutoModelForCausalLM.from_pretrained({str(tiny_model)!r})\n"
        f"model = PeftModel.from_pretrained(base, {str(run.final_path)!r})\n"
        f"tok = AutoTokenizer.from_pretrained({str(run.final_path)!r})\n"
        "enc = tok.apply_chat_template([{'role': 'user', 'content': 'hi'}], add_generation_prompt=True, "
        "return_tensors='pt')\n"
        "out = model.generate(**enc, max_new_tokens=3, do_sample=False)\nprint('OK', out.shape[1])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert "OK" in result.stdout, result.stderr[-2000:]


def test_full_finetune_saves_a_plain_model(tiny_model, chat_file, outputs):
    from transformers import AutoModelForCausalLM

    _, run, state = run_to_end(tiny_config(tiny_model, chat_file, outputs, finetuning_type="full", max_steps=3,
                                           learning_rate=1e-3), outputs)
    assert state == "completed", run.log_tail()
    model = AutoModelForCausalLM.from_pretrained(run.final_path)
    original = AutoModelForCausalLM.from_pretrained(tiny_model)
    changed = [n for (n, p), (_, q) in zip(model.named_parameters(), original.named_parameters(), strict=True)
               if not torch.equal(p, q)]
    assert changed, "full fine-tuning must change the weights"
    assert (run.final_path / "tokenizer_config.json").exists()


def test_dpo_run(tiny_model, tmp_path, outputs):
    rows = [{"prompt": f"Is {i} even?", "chosen": "yes" if i % 2 == 0 else "no",
             "rejected": "no" if i % 2 == 0 else "yes"} for i in range(8)]
    data = tmp_path / "pairs.json"
    data.write_text(json.dumps(rows))
    _, run, state = run_to_end(tiny_config(tiny_model, data, outputs, method="dpo", max_steps=4,
                                           learning_rate=1e-3), outputs)
    assert state == "completed", run.log_tail()
    assert (run.final_path / "adapter_config.json").exists()
    assert any("rewards_margins" in m for m in run.metrics())


def test_pretraining_on_text(tiny_model, tmp_path, outputs):
    data = tmp_path / "corpus.txt"
    data.write_text("\n".join(f"Line {i} of a plain text corpus about fine-tuning." for i in range(20)))
    _, run, state = run_to_end(tiny_config(tiny_model, data, outputs, method="pt", max_steps=4, packing=True),
                               outputs)
    assert state == "completed", run.log_tail()
    assert losses(run)


def test_qlora_4bit_runs_on_this_machine(tiny_model, chat_file, outputs):
    pytest.importorskip("bitsandbytes")
    _, run, state = run_to_end(tiny_config(tiny_model, chat_file, outputs, finetuning_type="qlora",
                                           quantization_bit=4, max_steps=3), outputs)
    assert state == "completed", run.log_tail()
    assert "Linear4bit" in (run.path / "train.log").read_text() or (run.final_path / "adapter_config.json").exists()


def test_stop_then_resume_matches_an_uninterrupted_run(tiny_model, chat_file, tmp_path):
    common = {"max_steps": 20, "save_steps": 100, "lora_dropout": 0.1, "learning_rate": 3e-3}
    _, straight, state = run_to_end(tiny_config(tiny_model, chat_file, tmp_path / "a", **common), tmp_path / "a")
    assert state == "completed"

    manager = RunManager(tmp_path / "b")
    run_id = manager.submit(tiny_config(tiny_model, chat_file, tmp_path / "b", **common))
    run = manager.run(run_id)
    assert stop_after(manager, run_id, 3, timeout=120) == "stopped"
    stopped_at = run.status()["step"]
    assert 3 <= stopped_at < 20 and run.latest_checkpoint().name == f"checkpoint-{stopped_at}"
    manager.resume(run_id)
    assert manager.wait(run_id, timeout=120) == "completed", run.log_tail()
    expected, got = losses(straight), losses(run)
    assert sorted(got) == list(range(1, 21))
    for step, value in expected.items():
        assert got[step] == pytest.approx(value, abs=1e-4), (step, got, expected)


def test_missing_model_fails_with_reason_and_suggestion(chat_file, outputs):
    config = tiny_config(Path("/nonexistent/model"), chat_file, outputs, model_source="local")
    _, run, state = run_to_end(config, outputs)
    status = run.status()
    assert state == "failed" and "model folder not found: /nonexistent/model" in status["error"]
    assert status["suggestion"] and "Traceback" in run.log_path.read_text()


def test_all_bad_data_fails_before_the_model_loads(tmp_path, outputs):
    data = tmp_path / "bad.json"
    data.write_text(json.dumps([{"instruction": "q", "output": ""}]))
    # the model does not exist either: a data error proves data was checked first
    _, run, state = run_to_end(tiny_config(Path("/nonexistent/model"), data, outputs, model_source="local"), outputs)
    assert state == "failed"
    error = run.status()["error"]
    assert error.startswith("bad data: every row of dataset") and "unusable" in error
    # the one-line reason itself names the bad row, so the CLI and the UI show it without the log
    assert "First problems: bad.json row 1: output is empty" in error
    assert "bad.json row 1: output is empty" in run.log_path.read_text()


def test_nan_loss_fails_with_advice(tmp_path, chat_file, outputs):
    from tests.conftest import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "nan-model")
    from safetensors.torch import load_file, save_file

    weights = load_file(model_dir / "model.safetensors")
    key = next(k for k in weights if "embed_tokens" in k)
    weights[key] = torch.full_like(weights[key], float("nan"))
    save_file(weights, model_dir / "model.safetensors", metadata={"format": "pt"})
    _, run, state = run_to_end(tiny_config(model_dir, chat_file, outputs, max_steps=3), outputs)
    assert state == "failed"
    assert "loss became nan" in run.status()["error"] and "learning_rate" in run.status()["suggestion"]


def test_oom_advice_names_this_runs_numbers():
    from engine.config.train_config import TrainConfig
    from engine.runs.failures import explain

    config = TrainConfig(per_device_train_batch_size=8, gradient_accumulation_steps=2, max_seq_length=2048)
    reason, advice = map(str, explain(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                      config))  # messages, read in English
    assert reason.startswith("out of memory")
    assert "per_device_train_batch_size 8 → 4 with gradient_accumulation_steps 2 → 4" in advice
    assert "gradient_checkpointing" in advice and "max_seq_length 2048 → 1024" in advice


def test_interrupted_run_is_marked_failed_and_resumable(tiny_model, chat_file, outputs):
    _, run, _ = run_to_end(tiny_config(tiny_model, chat_file, outputs, max_steps=4, save_steps=2), outputs)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.write_status(state="running", pid=dead.pid)  # as if the process died mid-run
    manager = RunManager(outputs)
    status = run.status()
    assert status["state"] == "failed" and status["error"].startswith("interrupted")
    assert "checkpoint-4" in status["suggestion"]
    with pytest.raises(RunError, match="no checkpoint checkpoint-99"):
        manager.resume(run.run_id, "checkpoint-99")


def test_a_checkpoint_cut_short_is_never_loaded(tiny_model, chat_file, outputs):
    """A kill or a full disk mid-save leaves checkpoint-N without trainer_state.json (written last): it is
    skipped, the interrupted run resumes from the last complete checkpoint, and asking for it is refused."""
    _, run, _ = run_to_end(tiny_config(tiny_model, chat_file, outputs, max_steps=4, save_steps=2,
                                       save_total_limit=0), outputs)
    (run.path / "checkpoint-4" / "trainer_state.json").unlink()  # as if the process died mid-save
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.write_status(state="running", pid=dead.pid)
    manager = RunManager(outputs)
    assert [p.name for p in run.checkpoints()] == ["checkpoint-2"]
    assert "checkpoint-2" in run.status()["suggestion"]
    assert "checkpoint-4 is incomplete" in run.log_path.read_text()
    with pytest.raises(RunError, match="checkpoint-4 of run .* is incomplete.*checkpoint-2"):
        manager.resume(run.run_id, "checkpoint-4")
    manager.resume(run.run_id)
    assert manager.wait(run.run_id, timeout=120) == "completed", run.log_tail()
    assert "resuming from" in run.log_path.read_text() and "checkpoint-2" in run.log_path.read_text()
    assert sorted(m["step"] for m in run.metrics() if "loss" in m and m.get("type") == "train") == [1, 2, 3, 4]


def test_runs_queue_one_at_a_time_and_delete_keeps_the_model(tiny_model, chat_file, outputs):
    manager = RunManager(outputs)
    first = manager.submit(tiny_config(tiny_model, chat_file, outputs, max_steps=3))
    second = manager.submit(tiny_config(tiny_model, chat_file, outputs, max_steps=3))
    assert manager.run(second).status()["state"] == "pending"
    assert manager.wait(first) == "completed" and manager.wait(second) == "completed"
    first_run = manager.run(first).status()
    assert first_run["ended_at"] <= manager.run(second).status()["started_at"]
    manager.delete(first)
    assert not (outputs / "runs" / first).exists() and (tiny_model / "config.json").exists()
    with pytest.raises(RunError, match="no run"):
        manager.run("../../etc")
