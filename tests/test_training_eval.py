"""Evaluation during training (validation loss and perplexity, early stopping, keeping the best
checkpoint), replay against forgetting, and the comparison report written after a run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.access.door import Door
from engine.config.train_config import TrainConfig
from engine.errors import ConfigError
from tests.conftest import run_to_end, tiny_config


@pytest.fixture
def numbers(tmp_path: Path) -> Path:
    rows = [{"instruction": f"Say the number {i}.", "output": f"The number is {i}."} for i in range(16)]
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_early_stopping_keeps_the_best_checkpoint(tiny_model, numbers, outputs, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "cache"))
    # a full fine-tune at a learning rate far too high: the validation loss falls, then turns up (with
    # AVX-512 and with AVX2 kernels alike); early stopping ends the run, and the final model is the best
    # checkpoint rather than the last one
    config = tiny_config(tiny_model, numbers, outputs, max_steps=40, val_size=4, eval_steps=2, save_steps=2,
                         save_total_limit=0, early_stopping_patience=2, keep_best=True, learning_rate=0.3,
                         finetuning_type="full", compare_after_training=False)
    manager, run, state = run_to_end(config, outputs)
    assert state == "completed"
    evals = [m for m in run.metrics() if m.get("eval_loss") is not None]
    assert run.status()["step"] < 40  # stopped early
    for m in evals:
        assert m["eval_perplexity"] == pytest.approx(math.exp(m["eval_loss"]), rel=1e-3)
    best = min(evals, key=lambda m: m["eval_loss"])
    assert best["step"] < evals[-1]["step"]
    log = run.log_path.read_text()
    assert f"best checkpoint is checkpoint-{best['step']}" in log and "early stopping ended training" in log
    from safetensors.torch import load_file

    final = load_file(run.final_path / "model.safetensors")
    kept = load_file(run.path / f"checkpoint-{best['step']}" / "model.safetensors")
    last = load_file(run.path / f"checkpoint-{evals[-1]['step']}" / "model.safetensors")
    assert all((final[k] == kept[k]).all() for k in final)
    assert not all((final[k] == last[k]).all() for k in final)


def test_keep_best_needs_saves_at_evaluations():
    with pytest.raises(ConfigError, match="must be a multiple of eval_steps"):
        TrainConfig(keep_best=True, save_steps=5, eval_steps=2).check()
    # a field that does not apply to the method is hidden in the form and ignored, never an error: the form
    # keeps the SFT preset's replay_ratio when the user switches to DPO
    TrainConfig(replay_ratio=1.0, method="dpo").check()


def test_replay_mixes_in_the_base_models_own_answers_once(tiny_model, numbers, outputs, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "cache"))
    config = tiny_config(tiny_model, numbers, outputs, max_steps=2, replay_ratio=0.5)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed"
    log = run.log_path.read_text()
    assert "the base model answers 8 general prompts once" in log
    assert "replay: 8 answers of the base model mixed into 16 training examples" in log
    cached = list((tmp_path / "cache" / "replay").glob("*.json"))
    assert len(cached) == 1 and len(json.loads(cached[0].read_text())) == 8
    _, again, _ = run_to_end(config, outputs)
    assert "answers of the base model read from the cache" in again.log_path.read_text()


def test_a_run_with_a_validation_split_gets_its_comparison_report(tiny_model, numbers, outputs, monkeypatch,
                                                                   tmp_path):
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "cache"))
    config = tiny_config(tiny_model, numbers, outputs, max_steps=4, val_size=3)
    door = Door.open(outputs)  # the door installs the report on the run queue, for the app and the CLI alike
    run = door.manager.run(door.start(config))
    assert door.manager.wait(run.run_id) == "completed"
    report = json.loads((run.path / "comparison.json").read_text())
    assert report["summary"]["task_questions"] == 3 and report["summary"]["general_right"]["of"] == 20
    assert (run.path / "comparison.csv").is_file()
    assert "comparison report saved" in run.log_path.read_text()
    assert door.run_detail(run.run_id)["comparison"]["with_reference"] == 3
    quiet = door.manager.run(door.start(config.replace(compare_after_training=False)))
    assert door.manager.wait(quiet.run_id) == "completed"
    assert not (quiet.path / "comparison.json").exists()
