"""Compare Chat's engine on a real (tiny) LoRA run: both sides stream, the shared-base batch gives the
same answers as the base alone and the adapter alone, greedy is reproducible, stop stops, and bad input
is explained. The batch report: metrics, the saved files, wrong columns."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest

from engine.errors import DataError, ModelError
from engine.evaluation.batch import BatchComparer, CompareRequest
from engine.inference.compare import CompareChat
from engine.inference.decode import Sampling
from engine.inference.pool import ModelPool
from engine.inference.sides import plan_side, side_choices
from tests.conftest import run_to_end, tiny_config


@pytest.fixture(scope="module")
def lora_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("compare")
    rows = [{"instruction": f"Say the number {i}.", "output": f"The number is {i}."} for i in range(12)]
    data = folder / "numbers.json"
    data.write_text(json.dumps(rows), encoding="utf-8")
    config = tiny_config(tiny_model, data, folder / "outputs", max_steps=60, learning_rate=3e-2, save_steps=30,
                         val_size=3)
    manager, run, state = run_to_end(config, folder / "outputs")
    assert state == "completed"
    return manager, run


def greedy(model, tok, text: str, n: int = 12) -> str:
    import torch

    ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("merge_share", [0.15, 0.0], ids=["merged-copy", "shared-base"])
def test_both_sides_stream_and_match_the_models_run_alone(lora_run, tiny_model: Path, merge_share: float):
    """Both ways of holding a run beside its base: a merged copy (a small model, memory to spare) and one
    copy of the base weights with the adapter off / on in one generate call (no room for a second copy)."""
    manager, run = lora_run
    chat = CompareChat(manager, ModelPool(merge_share=merge_share))
    base, tuned = f"base:{tiny_model}", f"run:{run.run_id}"
    steps = list(chat.stream(base, tuned, "Say the number 4.", sampling=Sampling(max_new_tokens=12)))
    assert len(steps) >= 5  # the panes grew token by token
    lefts, rights = [s[0] for s in steps], [s[1] for s in steps]
    assert all(b.startswith(a) for a, b in zip(lefts, lefts[1:], strict=False)) and all(
        b.startswith(a) for a, b in zip(rights, rights[1:], strict=False))
    left, right = steps[-1]
    # either way the answers equal each model on its own
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run.final_path)
    alone = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert left == greedy(alone, tok, "Say the number 4.")
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run.final_path)
    assert right == greedy(adapted, tok, "Say the number 4.")
    assert left != right  # the adapter is really on for the right side and off for the left
    info = chat.chat(base, tuned, "Say the number 4.", sampling=Sampling(max_new_tokens=12))
    assert (info["left"], info["right"]) == (left, right)  # greedy: reproducible
    assert (info["shared_base"], info["merged"]) == ((False, [False, True]) if merge_share else (True, [False, False]))


def test_sampling_with_a_seed_repeats_and_stop_ends_generation(lora_run, tiny_model: Path):
    manager, run = lora_run
    chat = CompareChat(manager, ModelPool())
    sides = (f"run:{run.run_id}", f"run:{run.run_id}@checkpoint-30")
    hot = Sampling(temperature=1.2, top_p=0.95, top_k=50, max_new_tokens=16, seed=7)
    first = chat.chat(*sides, "Say the number 9.", sampling=hot)
    again = chat.chat(*sides, "Say the number 9.", sampling=hot)
    assert (first["left"], first["right"]) == (again["left"], again["right"])
    stop = threading.Event()
    steps = 0
    for _ in chat.stream(*sides, "Say the number 9.", sampling=Sampling(max_new_tokens=200), stop=stop):
        steps += 1
        if steps == 3:
            stop.set()
    assert steps < 20


def test_bad_sides_and_prompts_are_explained(lora_run, tiny_model: Path, tmp_path: Path):
    manager, run = lora_run
    chat = CompareChat(manager, ModelPool())
    with pytest.raises(ModelError, match="no run"):
        plan_side("run:20990101-000000-nothing-0000", manager)
    with pytest.raises(ModelError, match="has no checkpoint-999"):
        plan_side(f"run:{run.run_id}@checkpoint-999", manager)
    with pytest.raises(ModelError, match="a side is base"):
        plan_side("whatever", manager)
    with pytest.raises(ModelError, match="context is 1,024 tokens"):
        list(chat.stream(f"base:{tiny_model}", f"run:{run.run_id}", "word " * 2000))
    with pytest.raises(ModelError, match="cannot be found"):
        list(chat.stream(f"base:{tmp_path / 'gone'}", f"run:{run.run_id}", "hi"))
    with pytest.raises(ModelError, match="empty"):
        list(chat.stream(f"base:{tiny_model}", f"run:{run.run_id}", "  "))
    # an interrupted checkpoint save: no adapter, no weights
    broken = run.path / "checkpoint-30"
    saved = broken / "adapter_config.json"
    content = saved.read_bytes()
    saved.unlink()
    try:
        with pytest.raises(ModelError, match="incomplete"):
            plan_side(f"run:{run.run_id}@checkpoint-30", manager)
    finally:
        saved.write_bytes(content)
    assert (f"{run.run_id} @ checkpoint-30", f"run:{run.run_id}@checkpoint-30") in side_choices(manager)


def test_an_adapter_trained_on_another_base_is_refused(lora_run, tmp_path: Path):
    from tests.conftest import build_tiny_model

    manager, run = lora_run
    other = build_tiny_model(tmp_path / "other", run.final_path)  # same tokenizer, different weights
    config_path = other / "config.json"
    config = json.loads(config_path.read_text())
    config.update(hidden_size=32, head_dim=8, intermediate_size=64)
    config_path.write_text(json.dumps(config))
    from transformers import AutoConfig, AutoModelForCausalLM

    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(other)).save_pretrained(other)
    text = run.config_path.read_text()
    run.config_path.write_text(text.replace(str(json.loads(json.dumps(str(run.config().model_name_or_path)))),
                                            str(other)))
    try:
        with pytest.raises(ModelError, match="does not fit the base model"):
            CompareChat(manager, ModelPool()).chat(f"base:{other}", f"run:{run.run_id}", "hi")
    finally:
        run.config_path.write_text(text)


def test_batch_report_scores_saves_and_reloads(lora_run, tiny_model: Path, tmp_path: Path):
    manager, run = lora_run
    questions = tmp_path / "q.csv"
    with questions.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question", "answer"])
        for i in (3, 5, 7):
            writer.writerow([f"Say the number {i}.", f"The number is {i}."])
    comparer = BatchComparer(manager, pool=ModelPool())
    report = comparer.jobs.wait(comparer.start(CompareRequest(f"base:{tiny_model}", f"run:{run.run_id}",
                                                              str(questions), general=False, max_new_tokens=12)),
                                120)
    s = report["summary"]
    assert s["task_questions"] == s["with_reference"] == 3
    # the tuned side learnt exactly these answers: it finds them far more likely and reproduces them
    assert s["right_perplexity"] < s["left_perplexity"]
    assert s["right_rougeL"] > s["left_rougeL"]
    assert s["diff_rougeL"] == pytest.approx(s["right_rougeL"] - s["left_rougeL"], abs=1e-3)
    saved = json.loads(Path(report["saved"]["json"]).read_text())
    assert saved["summary"] == s and Path(report["saved"]["json"]).parent == run.path
    with open(report["saved"]["csv"], encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [r["question"] for r in table] == [f"Say the number {i}." for i in (3, 5, 7)]
    # without a file: the run's own validation split (val_size=3)
    split = comparer.run(CompareRequest(f"base:{tiny_model}", f"run:{run.run_id}", general=False,
                                        max_new_tokens=8))
    assert split["summary"]["task_questions"] == 3 and split["summary"]["with_reference"] == 3


def test_a_questions_file_with_the_wrong_columns_names_them(lora_run, tiny_model: Path, tmp_path: Path):
    manager, run = lora_run
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello", "label": 1}\n', encoding="utf-8")
    comparer = BatchComparer(manager, pool=ModelPool())
    job = comparer.start(CompareRequest(f"base:{tiny_model}", f"run:{run.run_id}", str(bad), general=False))
    with pytest.raises(Exception, match="no question.*question / prompt.*this row has label, text"):
        comparer.jobs.wait(job, 60)
    with pytest.raises(DataError, match="not found"):
        comparer.start(CompareRequest(f"base:{tiny_model}", f"run:{run.run_id}", str(tmp_path / "none.csv")))


def test_the_cli_chats_and_compares(lora_run, tiny_model: Path, tmp_path: Path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    manager, run = lora_run
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    chat = subprocess.run([sys.executable, "-m", "engine", "chat", f"base:{tiny_model}", f"run:{run.run_id}",
                           "Say the number 4.", "--max-new-tokens", "8", "--outputs", str(manager.outputs)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert f"--- run:{run.run_id} ---" in chat.stdout
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "Say the number 1.", "answer": "The number is 1."}\n', encoding="utf-8")
    compare = subprocess.run([sys.executable, "-m", "engine", "compare", f"base:{tiny_model}", f"run:{run.run_id}",
                              "--questions", str(questions), "--no-general", "--max-new-tokens", "8",
                              "--outputs", str(manager.outputs)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert compare.returncode == 0, compare.stderr[-2000:]
    assert "ROUGE-L" in compare.stdout and str(run.path / "comparison.json") in compare.stdout
    bad = subprocess.run([sys.executable, "-m", "engine", "chat", "nonsense", f"run:{run.run_id}", "hi",
                          "--outputs", str(manager.outputs)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "a side is base" in bad.stderr


def test_reference_likelihoods_do_not_depend_on_how_rows_are_chunked(lora_run, tiny_model: Path, monkeypatch):
    """References are scored in chunks whose logits fit a budget (a 150k vocabulary × a whole report's rows
    would take gigabytes); a row's perplexity must be the same in a chunk of one as beside the others."""
    from engine.inference import generate

    manager, run = lora_run
    sides = ModelPool().sides([plan_side(f"base:{tiny_model}", manager), plan_side(f"run:{run.run_id}", manager)])
    convs = [[{"role": "user", "content": f"Say the number {i}."}] for i in (2, 9) for _ in sides]
    refs = [f"The number is {i}." + " Really." * (i // 3) for i in (2, 9) for _ in sides]
    rows = [sides[0], sides[1], sides[0], sides[1]]
    together = generate.reference_nll(rows, convs, refs)
    monkeypatch.setattr(generate, "LOGIT_BUDGET", 1)  # every row in a chunk of its own
    assert generate._logit_chunks([0, 1, 2], [5, 9, 7], sides[0].loaded.model) == [[0], [1], [2]]
    alone = generate.reference_nll(rows, convs, refs)
    assert alone == pytest.approx(together, rel=1e-4)
    assert together[1] < together[0] and together[3] < together[2]  # the tuned side learnt these answers
