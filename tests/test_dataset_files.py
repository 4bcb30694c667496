"""Bad and unusual files: each gets a clear message naming the problem within seconds, never a crash,
and the user's source file is never written."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from engine.data.prepare import encode_samples, read_samples
from engine.data.sources import load_source
from engine.errors import DataError
from tests.conftest import data_config as cfg


def test_malformed_json_line_is_named_by_its_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n'
                    '{"instruction": "e", "output": "f"}\n', encoding="utf-8")
    source = load_source(str(path))
    assert len(source.rows) == 2
    assert source.bad == ["d.jsonl line 2: not valid JSON (Expecting value at column 31)"]


def test_json_that_is_not_a_list_of_objects(tmp_path: Path):
    (tmp_path / "n.json").write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(DataError, match=r"n.json: a JSON list of ints, not of records"):
        load_source(str(tmp_path / "n.json"))
    (tmp_path / "s.json").write_text('"just text"', encoding="utf-8")
    with pytest.raises(DataError, match="expected a JSON list of records .* got a str"):
        load_source(str(tmp_path / "s.json"))


def test_gb18030_file_is_read_without_mojibake(tmp_path: Path):
    rows = [{"instruction": "你是谁？", "output": "我是 TuneBot。"}]
    (tmp_path / "gbk.json").write_bytes(json.dumps(rows, ensure_ascii=False).encode("gb18030"))
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(rows[0], ensure_ascii=False).encode())
    assert load_source(str(tmp_path / "gbk.json")).rows[0].data == rows[0]
    assert load_source(str(tmp_path / "bom.jsonl")).rows[0].data == rows[0]


def test_mixed_encoding_names_the_line_and_the_encoding(tmp_path: Path):
    path = tmp_path / "mixed.jsonl"
    utf8 = json.dumps({"text": "中文"}, ensure_ascii=False).encode()
    path.write_bytes(utf8 + b"\n" + utf8 + b"\n" + json.dumps({"text": "中文"}, ensure_ascii=False).encode("gb18030")
                     + b"\n")
    with pytest.raises(DataError, match=r"mixed.jsonl line 3 is not valid UTF-8 .*mixes text encodings.*UTF-8"):
        load_source(str(path))


def test_empty_binary_and_renamed_files(tmp_path: Path):
    (tmp_path / "empty.json").write_text("  \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.json is empty"):
        load_source(str(tmp_path / "empty.json"))
    (tmp_path / "sheet.json").write_bytes(b"PK\x03\x04" + bytes(200))
    with pytest.raises(DataError, match=r"sheet.json is a zip archive \(an .xlsx"):
        load_source(str(tmp_path / "sheet.json"))
    (tmp_path / "blob.jsonl").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="blob.jsonl is a binary file"):
        load_source(str(tmp_path / "blob.jsonl"))
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(DataError, match=r"data.xlsx is a .xlsx file; TuneDesk reads .json"):
        load_source(str(tmp_path / "data.xlsx"))


def test_a_single_50_mb_line_is_read_within_seconds(tmp_path: Path):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "word " * 10_000_000}) + "\n", encoding="utf-8")
    assert path.stat().st_size > 50e6
    started = time.time()
    source = load_source(str(path))
    assert len(source.rows) == 1 and len(source.rows[0].data["text"]) == 50_000_000
    assert time.time() - started < 20


def test_csv_ragged_rows_and_bad_quoting(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text('instruction,output\nq1,a1\nq2,a2,extra\n"q3, with comma",a3\n', encoding="utf-8")
    source = load_source(str(path))
    assert [r.data["instruction"] for r in source.rows] == ["q1", "q3, with comma"]
    assert source.bad == ["r.csv row 3: 3 cells but the header has 2 (instruction, output); check the quoting of "
                          "that row"]
    (tmp_path / "nul.csv").write_text('instruction,output\n"q\x00",a\n', encoding="utf-8")
    with pytest.raises(DataError, match="binary file|cannot be read as CSV"):
        load_source(str(tmp_path / "nul.csv"))


def test_missing_columns_are_named(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "q", "reply": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot tell the dataset format from its fields \(question, reply\)") as err:
        read_samples(cfg(path))
    assert "无法从字段（question, reply）判断数据集格式" in err.value.render("zh")
    path.write_text(json.dumps({"instruction": "q"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"q.jsonl line 1: output is empty or missing \(field 'output'\)"):
        read_samples(cfg(path))


def test_train_valid_test_folder_uses_its_own_validation_file(tmp_path: Path, tiny_tokenizer):
    folder = tmp_path / "mydata"
    folder.mkdir()
    for split, n in (("train", 6), ("valid", 2), ("test", 3)):
        rows = [{"instruction": f"{split} {i}?", "output": f"{split} answer {i}."} for i in range(n)]
        (folder / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    config = cfg(folder, val_size=0.5)
    normalized, report = read_samples(config)
    train, val = encode_samples(tiny_tokenizer, normalized, report, config)
    assert (len(train), len(val), report.test_examples) == (6, 2, 3)
    assert all("valid answer" in tiny_tokenizer.decode(e.input_ids) for e in val)


def test_encoding_is_cached_and_identical_on_the_second_run(tmp_path: Path, tiny_tokenizer, monkeypatch):
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": f"Q{i}", "output": f"A{i}"}) for i in range(20)),
                    encoding="utf-8")
    config = cfg(path, max_seq_length=64, val_size=0.2)
    first_n, first_r = read_samples(config)
    first = encode_samples(tiny_tokenizer, first_n, first_r, config)
    second_n, second_r = read_samples(config)
    second = encode_samples(tiny_tokenizer, second_n, second_r, config)
    assert not first_r.cached and second_r.cached
    assert [(e.input_ids, e.labels) for part in first for e in part] == \
        [(e.input_ids, e.labels) for part in second for e in part]
    assert second_r.trained_tokens == first_r.trained_tokens > 0
    path.write_text(path.read_text() + "\n" + json.dumps({"instruction": "new", "output": "row"}), encoding="utf-8")
    third_n, third_r = read_samples(config)
    encode_samples(tiny_tokenizer, third_n, third_r, config)
    assert not third_r.cached  # new content, new key


def test_source_file_is_never_written(tmp_path: Path):
    from engine.data.clean import CleanOptions
    from engine.data.explorer import DatasetChoice, DatasetExplorer

    datasets = tmp_path / "outputs" / "datasets" / "mine"
    datasets.mkdir(parents=True)
    source = datasets / "train.jsonl"
    source.write_text("\n".join(json.dumps({"instruction": f"q{i}", "output": "a"}) for i in range(4)),
                      encoding="utf-8")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    explorer = DatasetExplorer(tmp_path / "outputs")
    with pytest.raises(DataError, match="holds the source data itself"):
        explorer.clean(DatasetChoice(str(source)), CleanOptions("mine", overwrite=True))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_a_dataset_with_images_is_named_as_such_not_trained_on_its_placeholders(tmp_path: Path, method: str):
    """LLaMA-Factory's multimodal layout: each row lists its files; the text refers to them as <image>."""
    path = tmp_path / "mllm.json"
    rows = [{"messages": [{"role": "user", "content": "<image>Who is in the picture?"},
                          {"role": "assistant", "content": "A cat."}], "images": ["pics/1.jpg"]},
            {"messages": [{"role": "user", "content": "<video>What happens?"},
                          {"role": "assistant", "content": "It rains."}], "videos": ["clips/1.mp4"], "images": []}]
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(DataError, match=r"mllm.json: this dataset has images, videos \(field 'images', 'videos'\): "
                                        r"TuneDesk trains text models") as err:
        read_samples(cfg(path, method=method, per_device_train_batch_size=4))
    assert "此数据集包含图像、视频（字段 'images', 'videos'）" in err.value.render("zh")
    # without its files the same conversations are text, and train
    path.write_text(json.dumps([{k: v for k, v in r.items() if k in ("messages",)} for r in rows[:1]]),
                    encoding="utf-8")
    assert read_samples(cfg(path))[1].format == "openai"
