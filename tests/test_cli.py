"""The headless CLI: python -m engine train/runs/resume as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def engine_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_train_then_list(tiny_model, chat_file, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(f"model_name_or_path: {tiny_model}\ndataset: {chat_file}\nmax_steps: 3\nlogging_steps: 1\n"
                      f"per_device_train_batch_size: 2\nmax_seq_length: 128\n")
    result = engine_cli("train", str(config), "--set", "learning_rate=1e-3", "--set", "run_name=cli-test",
                        "--outputs", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run " in result.stdout and "completed: final loss" in result.stdout
    run_dir = next((tmp_path / "out" / "runs").iterdir())
    assert "cli-test" in run_dir.name and "learning_rate: 0.001" in (run_dir / "config.yaml").read_text()
    listing = engine_cli("runs", "--outputs", str(tmp_path / "out"), cwd=tmp_path)
    assert listing.returncode == 0 and run_dir.name in listing.stdout and "completed" in listing.stdout


def test_failed_run_exits_non_zero_with_one_line_reason(tmp_path, chat_file):
    config = tmp_path / "run.yaml"
    config.write_text(f"model_name_or_path: {tmp_path / 'no-model'}\nmodel_source: local\ndataset: {chat_file}\n")
    result = engine_cli("train", str(config), "--outputs", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "failed: model folder not found" in result.stderr


def test_bad_config_is_refused_before_any_run(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("lerning_rate: 1\n")
    result = engine_cli("train", str(config), cwd=tmp_path)
    assert result.returncode == 2 and "did you mean 'learning_rate'" in result.stderr
    assert not (tmp_path / "outputs" / "runs").exists() or not any((tmp_path / "outputs" / "runs").iterdir())
