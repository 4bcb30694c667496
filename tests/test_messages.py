"""Messages the engine gives users (bad rows, failed runs, alerts) exist in English and Chinese, carry the
values their text names, and reach the reader in the reader's language."""

from __future__ import annotations

import ast
import json
import re

from engine.data.explorer import DatasetChoice, DatasetExplorer
from engine.runs.failures import explain
from engine.text.catalog import CATALOG
from engine.text.message import Text, placeholders, render, say
from tests.conftest import ROOT, run_to_end, tiny_config

CJK = re.compile(r"[\u4e00-\u9fff]")
# messages with nothing to translate: a library's own text, a setting's name and values, a list separator,
# an exception's type and text
SAME_IN_BOTH = {"plain", "run.oom_length", "run.step_sep", "data.list_sep", "run.crash", "env.flash", "env.deepspeed",
                "text.comma", "run.advice_and_plan", "plan.label_lora", "plan.change"}


def said_in_the_engine() -> list[tuple[str, set[str], str]]:
    """(key, keyword names, where) of every say("key", …) call in engine/."""
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "say" and node.args \
                    and isinstance(node.args[0], ast.Constant):
                found.append((node.args[0].value, {k.arg for k in node.keywords},
                              f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def test_every_message_renders_in_both_languages_with_every_value_filled():
    problems = []
    for key, (en, zh) in CATALOG.items():
        names = placeholders(en)
        if names != placeholders(zh):
            problems.append(f"{key}: {sorted(names)} vs {sorted(placeholders(zh))}")
            continue
        sample = {name: f"<{name}>" for name in names}
        for lang in ("en", "zh"):
            text = Text(key, sample).render(lang)
            if "{" in text.replace("{" + "}", "") and not any(f"<{n}>" in text for n in names):
                problems.append(f"{key}: a placeholder left in {lang}")
        if key not in SAME_IN_BOTH and (zh == en or not (CJK.search(zh) or "（" in zh)):
            problems.append(f"{key}: no Chinese text")
    assert problems == []


def test_every_key_the_engine_says_exists_with_the_values_it_names():
    said = said_in_the_engine()
    assert len(said) > 50  # the scan sees the engine's messages
    problems = [f"{where}: {key}" + ("" if key in CATALOG else " (no such key)")
                for key, names, where in said if key not in CATALOG or names != placeholders(CATALOG[key][0])]
    assert problems == []


def test_a_message_reads_as_english_and_survives_a_json_file():
    message = say("row.output_missing", field="output")
    assert str(message) == "output is empty or missing (field 'output')"
    stored = json.loads(json.dumps(message.to_dict()))
    assert render(stored, "zh") == "output 为空或缺失（字段 'output'）"
    assert render("plain text", "zh") == "plain text" and render(None, "zh") == ""


def test_bad_rows_of_the_explorer_read_in_chinese(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "你好", "output": "我是 TuneBot。"}\n{oops\n{"instruction": "q"}\n',
                      encoding="utf-8")
    stats = DatasetExplorer(tmp_path / "outputs").inspect(DatasetChoice(str(broken), max_len=128), token_sample=0)
    reasons = {b.where: (b.reason, render(b.text, "zh")) for b in stats.bad}
    assert reasons["broken.jsonl line 2"][0].startswith("not valid JSON (Expecting property name")
    assert reasons["broken.jsonl line 2"][1].startswith("不是有效的 JSON（第 2 列")
    assert reasons["broken.jsonl line 3"] == ("output is empty or missing (field 'output')",
                                               "output 为空或缺失（字段 'output'）")


def test_a_failed_run_says_why_in_both_languages(tiny_model, outputs, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "", "output": ""}] * 3))
    _, run, state = run_to_end(tiny_config(tiny_model, bad, outputs), outputs)
    status = run.status()
    assert state == "failed" and status["error"].startswith("bad data:")
    assert render(status["error_text"], "zh").startswith("数据有误：")
    assert render(status["suggestion_text"], "zh") == ("请修正 train.log 和 data_report.json 中列出的行，"
                                                       "或设置 dataset_format。")
    assert status["suggestion"] == render(status["suggestion_text"], "en")


def test_out_of_memory_advice_keeps_the_effective_batch_in_both_languages():
    config = tiny_config(ROOT, ROOT / "samples" / "identity.json", ROOT, per_device_train_batch_size=8,
                         gradient_accumulation_steps=2, max_seq_length=1024)
    reason, advice = explain(MemoryError("cannot allocate"), config)
    assert str(advice).startswith("Try: per_device_train_batch_size 8 → 4 with gradient_accumulation_steps 2 → 4 "
                                  "(same effective batch of 16); turn on gradient_checkpointing;")
    assert advice.render("zh").startswith("可以尝试：per_device_train_batch_size 8 → 4，同时 "
                                          "gradient_accumulation_steps 2 → 4（有效批大小仍为 16）；开启")
    assert reason.render("zh").startswith("内存不足")


def test_the_cli_says_why_a_run_failed_in_the_language_asked_for(tiny_model, outputs, tmp_path):
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "", "output": ""}] * 3))
    config = tmp_path / "bad.yaml"
    config.write_text(tiny_config(tiny_model, bad, outputs).to_yaml(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUNEDESK_LANG": ""}
    zh = subprocess.run([sys.executable, "-m", "engine", "--lang", "zh", "train", str(config),
                         "--outputs", str(outputs)], capture_output=True, text=True, env=env, timeout=300)
    assert zh.returncode == 1, zh.stderr[-2000:]
    assert "失败: 数据有误：" in zh.stderr, zh.stderr[-2000:]
    assert "请修正 train.log 和 data_report.json 中列出的行" in zh.stderr, zh.stderr[-2000:]
    # the locale picks the language when no flag is given; an error before any run is rendered too
    missing = subprocess.run([sys.executable, "-m", "engine", "resume", "no-such-run", "--outputs", str(outputs)],
                             capture_output=True, text=True, env={**env, "LANG": "zh_CN.UTF-8"}, timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("错误: "), missing.stderr[-2000:]
    en = subprocess.run([sys.executable, "-m", "engine", "train", str(config), "--outputs", str(outputs)],
                        capture_output=True, text=True, env={**env, "LANG": "C.UTF-8"}, timeout=300)
    assert en.returncode == 1 and "failed: bad data:" in en.stderr, en.stderr[-2000:]
