"""Data: every format read from real files, bad rows named, labels only on answers, truncation counted."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.data.encode import IGNORE, EncodeStats, LossMask, encode_conversation
from engine.data.formats import Conversation
from engine.data.prepare import encode_samples, read_samples
from engine.errors import DataError
from tests.conftest import SHARED_DATA, needs_shared
from tests.conftest import data_config as cfg


def write(path: Path, rows: list) -> Path:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


@needs_shared
@pytest.mark.parametrize(("name", "fmt", "method", "rows"), [
    ("alpaca_en_demo", "alpaca", "sft", 999),
    ("identity", "alpaca", "sft", 91),
    ("dpo_en_demo", "pairwise", "dpo", 300),
    ("glaive_toolcall_en_demo", "sharegpt", "sft", 300),
])
def test_shared_datasets_through_dataset_info(name: str, fmt: str, method: str, rows: int):
    normalized, report = read_samples(cfg(f"{SHARED_DATA}:{name}", method=method))
    assert (report.format, report.rows) == (fmt, rows)
    assert report.usable == len(normalized.samples) > 0.9 * rows


@needs_shared
def test_sharegpt_tool_calls_keep_tools_and_roles(tiny_tokenizer):
    normalized, report = read_samples(cfg(f"{SHARED_DATA}:glaive_toolcall_en_demo"))
    with_tools = next(s for s in normalized.samples if s.tools)
    roles = {m["role"] for m in with_tools.messages}
    assert {"user", "assistant", "tool"} <= roles
    train, _ = encode_samples(tiny_tokenizer, normalized, report, cfg(f"{SHARED_DATA}:glaive_toolcall_en_demo"))
    assert train and report.trained_tokens > 0
    # Qwen3's template renders the tool schema itself
    assert "search_recipes" in tiny_tokenizer.decode(train[0].input_ids) or any(
        "<tools>" in tiny_tokenizer.decode(e.input_ids) for e in train[:20])


def test_alpaca_with_system_and_history(tmp_path: Path):
    path = write(tmp_path / "a.json", [{"instruction": "Q2", "input": "ctx", "output": "A2", "system": "Be brief.",
                                        "history": [["Q1", "A1"]]}])
    normalized, _ = read_samples(cfg(path))
    assert normalized.samples[0].messages == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2\nctx"},
        {"role": "assistant", "content": "A2"}]


def test_openai_messages_with_text_parts_in_jsonl(tmp_path: Path):
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                      {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x.png"}]},
                      {"role": "assistant", "content": "A cat"}]},
    ]) + "\n{not json\n", encoding="utf-8")
    normalized, report = read_samples(cfg(path))
    assert report.format == "openai"
    assert normalized.samples[0].messages[0]["content"] == "Hi there"
    assert report.bad_count == 2
    assert any("m.jsonl line 2" in b and "'image_url' part" in b for b in report.bad)
    assert any("m.jsonl line 3" in b and "not valid JSON" in b for b in report.bad)


def test_pairwise_variants(tmp_path: Path):
    path = write(tmp_path / "p.json", [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello"}],
         "rejected": [{"role": "assistant", "content": "Go away"}]},
        {"instruction": "Say yes", "chosen": "yes", "rejected": "yes"},
    ])
    normalized, report = read_samples(cfg(path, method="dpo"))
    assert report.format == "pairwise" and len(normalized.samples) == 2
    assert normalized.samples[1].chosen == "Hello"
    assert report.bad == ["p.json row 3: chosen and rejected are identical: nothing to prefer"]


def test_csv_parquet_and_txt(tmp_path: Path):
    frame = pd.DataFrame({"instruction": ["a", "b", ""], "output": ["x", "y", "z"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    _, csv_report = read_samples(cfg(tmp_path / "d.csv"))
    _, pq_report = read_samples(cfg(tmp_path / "d.parquet"))
    assert csv_report.usable == pq_report.usable == 2
    # row 4 counting the header, as a spreadsheet shows it
    assert csv_report.bad == ["d.csv row 4: instruction is empty or missing (field 'instruction')"]
    (tmp_path / "t.txt").write_text("first line\n\nsecond line\n", encoding="utf-8")
    normalized, report = read_samples(cfg(tmp_path / "t.txt", method="pt"))
    assert report.format == "text" and [s.text for s in normalized.samples] == ["first line", "second line"]


def test_every_row_bad_fails_naming_rows(tmp_path: Path):
    path = write(tmp_path / "bad.json", [{"instruction": "q", "output": ""}, {"instruction": "", "output": "a"}])
    with pytest.raises(DataError) as err:
        read_samples(cfg(path))
    assert "bad.json row 1: output is empty" in str(err.value)
    assert "bad.json row 2: instruction is empty" in str(err.value)


def test_method_and_format_mismatch_says_what_is_needed(tmp_path: Path):
    path = write(tmp_path / "a.json", [{"instruction": "q", "output": "a"}])
    with pytest.raises(DataError, match="method dpo needs pairs with chosen and rejected"):
        read_samples(cfg(path, method="dpo"))


def test_unreadable_inputs_have_clear_errors(tmp_path: Path):
    with pytest.raises(DataError, match="file not found"):
        read_samples(cfg(tmp_path / "missing.json"))
    (tmp_path / "broken.json").write_text('[{"a": 1}', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json: not valid JSON \(line 1"):
        read_samples(cfg(tmp_path / "broken.json"))
    (tmp_path / "x.json").write_text('[{"foo": 1}]', encoding="utf-8")
    with pytest.raises(DataError, match="cannot tell the dataset format"):
        read_samples(cfg(tmp_path / "x.json"))


def test_project_samples_load_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    _, report = read_samples(cfg("samples/identity.json"))
    assert report.usable == 18
    _, report = read_samples(cfg("samples:dpo_sample", method="dpo"))
    assert report.format == "pairwise"
    _, report = read_samples(cfg("samples:pretrain_sample", method="pt"))
    assert report.format == "text"


def test_labels_cover_exactly_the_answers(tiny_tokenizer):
    conv = Conversation([{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "TuneBot."},
                         {"role": "user", "content": "Sure?"}, {"role": "assistant", "content": "Yes, sure."}])
    stats = EncodeStats()
    examples = encode_conversation(tiny_tokenizer, conv, 512, LossMask(), stats)
    trained = "".join(tiny_tokenizer.decode([t for t, label in zip(e.input_ids, e.labels, strict=True)
                                              if label != IGNORE]) for e in examples)
    assert "TuneBot." in trained and "Yes, sure." in trained
    assert "Who are you?" not in trained and "Sure?" not in trained
    assert "<|im_end|>" in trained  # the model must learn to stop
    everything = encode_conversation(tiny_tokenizer, conv, 512, LossMask(train_on_prompt=True), EncodeStats())
    assert sum(1 for e in everything for label in e.labels if label != IGNORE) == sum(len(e) for e in everything)


def test_truncation_is_counted_and_prompt_only_overflow_dropped(tiny_tokenizer):
    long_answer = Conversation([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "word " * 200}])
    long_prompt = Conversation([{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}])
    stats = EncodeStats()
    kept = encode_conversation(tiny_tokenizer, long_answer, 64, LossMask(), stats)
    dropped = encode_conversation(tiny_tokenizer, long_prompt, 64, LossMask(), stats)
    assert len(kept) == 1 and len(kept[0]) == 64 and dropped == []
    assert (stats.truncated, stats.too_long) == (1, 1)


@needs_shared
def test_qwen3_multi_turn_matches_what_inference_sees(tiny_tokenizer):
    """Qwen3's template rewrites earlier turns, so each answer becomes its own example with the real prompt."""
    messages = [{"role": "user", "content": "A?"}, {"role": "assistant", "content": "a."},
                {"role": "user", "content": "B?"}, {"role": "assistant", "content": "b."}]
    examples = encode_conversation(tiny_tokenizer, Conversation(messages), 512, LossMask(), EncodeStats())
    for n, example in enumerate(examples):
        answer_at = next(i for i, label in enumerate(example.labels) if label != IGNORE)
        prompt = tiny_tokenizer.decode(example.input_ids[:answer_at])
        expected = tiny_tokenizer.apply_chat_template(messages[: 2 * (len(messages) // 2 - len(examples) + n) + 1],
                                                      tokenize=False, add_generation_prompt=True)
        assert prompt == expected
