"""The Dataset Explorer's engine: statistics, token-exact preview, paging, clean/split/save, saved
mappings and background jobs, all over the training data path itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from engine.access.paths import PathGuard
from engine.config.train_config import TrainConfig
from engine.data import stats as stats_module
from engine.data import stats_parallel
from engine.data.clean import CleanOptions
from engine.data.collate import PaddedCollator
from engine.data.encode import IGNORE
from engine.data.explorer import DatasetChoice, DatasetExplorer
from engine.data.pager import RowPager
from engine.data.prepare import encode_samples, read_samples
from engine.data.sources import iter_rows, plan_source
from engine.errors import DataError, PathNotAllowed
from tests.conftest import ROOT

FORMATS_DIR = ROOT / "samples" / "formats"


@pytest.fixture
def explorer(tmp_path: Path) -> DatasetExplorer:
    return DatasetExplorer(tmp_path / "outputs")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def mixed_rows() -> list[dict]:
    rows = [{"instruction": f"Question {i}: " + "why " * (i % 7), "output": "Because " * (1 + i % 30)}
            for i in range(40)]
    rows += [{"instruction": "你好，请介绍一下你自己。", "output": "我是 TuneBot。"}] * 2  # one exact duplicate
    rows += [{"instruction": "QUESTION 1:  WHY", "output": "because, BECAUSE!"}]  # a near-duplicate of row 2
    rows += [{"instruction": "", "output": "no question"}, {"instruction": "no answer", "output": ""}]
    return rows


def test_statistics_count_every_row(tmp_path: Path, explorer: DatasetExplorer, tiny_model: Path):
    path = write_jsonl(tmp_path / "mixed.jsonl", mixed_rows())
    with path.open("a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    stats = explorer.inspect(DatasetChoice(str(path), model=str(tiny_model), max_len=48))
    assert (stats.format, stats.rows, stats.usable, stats.bad_count) == ("alpaca", 46, 43, 3)
    assert [(b.where, b.reason) for b in stats.bad] == [
        ("mixed.jsonl line 44", "instruction is empty or missing (field 'instruction')"),
        ("mixed.jsonl line 45", "output is empty or missing (field 'output')"),
        ("mixed.jsonl line 46", "not valid JSON (Expecting property name enclosed in double quotes at column 2)")]
    assert stats.duplicates_exact == 1 and stats.duplicates_normalized == 2
    assert stats.language == {"en": 41, "zh": 2}
    assert stats.empty_fields == {"input": 0} or stats.empty_fields["instruction"] == 1
    assert stats.token_exact and stats.token_rows == 43
    # truncation agrees with training's own encoder on the same rows
    config = TrainConfig(dataset=str(path), max_seq_length=48)
    normalized, report = read_samples(config)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    encode_samples(tok, normalized, report, config)
    assert stats.truncated == report.truncated + report.too_long
    assert stats.suggested_max_len["p99"] >= max(stats.total_lengths) - 64


def test_parallel_statistics_equal_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rows = mixed_rows() * 50
    path = write_jsonl(tmp_path / "many.jsonl", rows)
    plan = plan_source(str(path))
    single = stats_module.compute_stats(plan, "auto", None, 512, workers=1)
    monkeypatch.setattr(stats_parallel, "PARALLEL_MIN_BYTES", 0)
    assert len(stats_parallel.parallel_ranges(plan, 2)) == 2
    double = stats_module.compute_stats(plan, "auto", None, 512, workers=2)
    for key in ("rows", "usable", "bad_count", "duplicates_exact", "duplicates_normalized", "language", "turns",
                "empty_fields"):
        assert getattr(single, key) == getattr(double, key), key
    assert sorted((b.where, b.reason) for b in single.bad) == sorted((b.where, b.reason) for b in double.bad)


def test_preview_marks_exactly_what_the_collator_trains(tmp_path: Path, explorer: DatasetExplorer,
                                                        tiny_model: Path):
    source = str(FORMATS_DIR / "openai_parts.jsonl")
    preview = explorer.preview(DatasetChoice(source, model=str(tiny_model), max_len=80), page=1, page_size=10)
    assert preview["format"] == "openai" and preview["rows_total"] == 5
    config = TrainConfig(dataset=source, max_seq_length=80)
    normalized, report = read_samples(config)
    tok = explorer.tokenizer(str(tiny_model))
    train, _ = encode_samples(tok, normalized, report, config)
    shown = [ex for row in preview["rows"] for ex in row["examples"] if not ex["dropped"]]
    assert len(shown) == len(train)
    for view, example in zip(shown, train, strict=True):
        assert view["ids"][:80] == example.input_ids  # the same tokens training gets
        labels = PaddedCollator(tok.pad_token_id)([example])["labels"][0].tolist()
        for i, label in enumerate(labels):  # token by token against the collator's labels
            assert (view["kinds"][i] == "trained") == (label != IGNORE and i > 0)
        assert all(k == "cut" for k in view["kinds"][80:])
        assert "".join(text for text, _ in view["pieces"]) == tok.decode(view["ids"], skip_special_tokens=False)
    cut = [ex for row in preview["rows"] for ex in row["examples"] if ex["truncated"] or ex["dropped"]]
    assert cut and all(len(ex["ids"]) > 80 and ex["kinds"][80:] == ["cut"] * (len(ex["ids"]) - 80) for ex in cut)


def test_preview_pages_a_big_file_by_line_offsets(tmp_path: Path, explorer: DatasetExplorer, tiny_model: Path):
    path = write_jsonl(tmp_path / "pages.jsonl", [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(1000)])
    pager = RowPager(plan_source(str(path)))
    assert pager._rows is None  # indexed, not loaded
    assert len(pager) == 1000
    every = list(iter_rows(plan_source(str(path))))
    assert [r.data for r in pager.page(500, 3)] == [r.data for r in every[500:503]]
    page = explorer.preview(DatasetChoice(str(path), model=str(tiny_model)), page=200, page_size=5)
    assert page["pages"] == 200 and [r["where"] for r in page["rows"]][0] == "pages.jsonl line 996"
    bom = tmp_path / "bom.jsonl"  # what Windows editors save: the first line starts with a BOM
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    first = RowPager(plan_source(str(bom))).page(0, 2)
    assert [r.data for r in first] == [r.data for r in every[:2]]


def test_clean_split_save_and_train_reads_it(tmp_path: Path, explorer: DatasetExplorer, tiny_tokenizer):
    path = write_jsonl(tmp_path / "mixed.jsonl", mixed_rows())
    options = CleanOptions("clean-set", dedupe="normalized", valid_size=0.2, test_size=4, seed=3)
    result = explorer.clean(DatasetChoice(str(path)), options)
    folder = Path(result.folder)
    assert (result.rows_in, result.bad, result.duplicates) == (45, 2, 2)
    assert (result.train, result.valid, result.test) == (30, 7, 4)  # 41 kept: 4 test, 20% of 37 valid
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "dataset_card.md", "test.jsonl", "train.jsonl",
                                                        "valid.jsonl"]
    assert "| duplicates removed (normalized) | 2 |" in (folder / "dataset_card.md").read_text()
    same = explorer.clean(DatasetChoice(str(path)), CleanOptions("again", dedupe="normalized", valid_size=0.2,
                                                                 test_size=4, seed=3))
    assert (folder / "valid.jsonl").read_text() == (Path(same.folder) / "valid.jsonl").read_text()  # seeded
    with pytest.raises(DataError, match="already exists"):
        explorer.clean(DatasetChoice(str(path)), options)
    assert {d["spec"] for d in explorer.datasets()} >= {str(folder)}
    config = TrainConfig(dataset=str(folder), max_seq_length=128)
    normalized, report = read_samples(config)
    train, val = encode_samples(tiny_tokenizer, normalized, report, config)
    assert (report.format, len(train), len(val), report.test_examples) == ("openai", 30, 7, 4)


def test_saved_mapping_trains_a_file_with_its_own_column_names(tmp_path: Path, explorer: DatasetExplorer):
    source = str(FORMATS_DIR / "custom_columns.csv")
    with pytest.raises(DataError, match="cannot tell the dataset format"):
        explorer.preview(DatasetChoice(source), 1, 1)
    choice = DatasetChoice(source, columns={"prompt": "question", "response": "answer"})
    spec = explorer.save_mapping(choice, "my-qa")
    assert spec.endswith("datasets:my-qa")
    normalized, report = read_samples(TrainConfig(dataset=spec))
    assert report.format == "alpaca" and report.usable == 2
    assert normalized.samples[0].messages[-1]["content"] == "I am TuneBot."
    assert any(d["kind"] == "mapping" and d["name"] == "my-qa" for d in explorer.datasets())


def test_inspect_job_reports_progress_and_cancels(tmp_path: Path, explorer: DatasetExplorer):
    path = write_jsonl(tmp_path / "slow.jsonl", [{"instruction": f"q{i} " * 20, "output": "a " * 20}
                                                 for i in range(150_000)])
    job_id = explorer.start_inspect(DatasetChoice(str(path), model="/nonexistent/model"))
    deadline = time.time() + 30
    while explorer.jobs.status(job_id)["progress"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    status = explorer.jobs.status(job_id)
    assert status["state"] == "running" and "rows read" in status["message"]
    asked = time.time()
    assert explorer.jobs.cancel(job_id) == "cancelling"
    explorer.jobs.get(job_id).finished.wait(10)
    assert explorer.jobs.status(job_id)["state"] == "cancelled" and time.time() - asked < 5

    # the tokenizer is loaded after the rows are read: a missing model fails the job with the model's message
    small = write_jsonl(tmp_path / "small.jsonl", [{"instruction": "q", "output": "a"}])
    job_id = explorer.start_inspect(DatasetChoice(str(small), model="/nonexistent/model"))
    explorer.jobs.get(job_id).finished.wait(30)
    status = explorer.jobs.status(job_id)
    assert status["state"] == "failed" and "/nonexistent/model" in status["error"]


def test_shared_app_refuses_paths_outside_allowed_folders(tmp_path: Path):
    explorer = DatasetExplorer(tmp_path / "outputs", PathGuard([tmp_path / "outputs"]))
    with pytest.raises(PathNotAllowed, match="outside the folders this shared app may read"):
        explorer.preview(DatasetChoice("/etc/passwd"), 1, 1)
    with pytest.raises(DataError, match="unknown key"):
        explorer.preview(DatasetChoice(str(FORMATS_DIR / "kto.jsonl"), columns={"nonsense": "x"}), 1, 1)


def test_clean_filters_by_token_length_as_training_renders(tmp_path: Path, explorer: DatasetExplorer,
                                                           tiny_model: Path):
    path = write_jsonl(tmp_path / "mixed.jsonl", mixed_rows())
    choice = DatasetChoice(str(path), model=str(tiny_model))
    stats = explorer.inspect(choice)
    limit = sorted(stats.total_lengths)[len(stats.total_lengths) // 2]  # the median: about half must go
    result = explorer.clean(choice, CleanOptions("short", dedupe="none", max_tokens=limit, shuffle=False))
    longer = sum(1 for n in stats.total_lengths if n > limit)
    assert result.filtered == longer > 0 and result.train == stats.usable - longer
    saved = explorer.inspect(DatasetChoice(result.folder, model=str(tiny_model)))
    assert max(saved.total_lengths) <= limit
    with pytest.raises(DataError, match="needs a model's tokenizer"):
        from engine.data.clean import clean_dataset

        clean_dataset(plan_source(str(path)), "alpaca", CleanOptions("x", max_tokens=5), tmp_path / "d")
