"""Hub datasets over HTTP, from the loopback hub (tests/hub_server.py) speaking Hugging Face's and
ModelScope's dataset routes: listed, downloaded with their checksums into the cache, read by TuneDesk's
own readers with their splits, read again offline from the cache, and `auto` falling back between hubs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.data.explorer import DatasetChoice, DatasetExplorer
from engine.data.prepare import read_samples
from engine.errors import DataError
from tests.conftest import data_config
from tests.hub_server import FakeHub

REPO = "team/identity-qa"


def lines(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import modelscope_hub.config

    server = FakeHub()
    train = [{"instruction": f"问题 {i}", "output": f"Answer {i}"} for i in range(30)]
    valid = [{"instruction": f"held-out {i}", "output": f"Held {i}"} for i in range(4)]
    server.add_dataset(REPO, {"data/train-00000-of-00001.jsonl": lines(train), "data/validation.jsonl": lines(valid),
                              "chat/train.jsonl": lines([{"messages": [{"role": "user", "content": "hi"},
                                                                       {"role": "assistant", "content": "hello"}]}])})
    server.start()
    for name, value in (("MODELSCOPE_DOMAIN", server.url), ("HF_ENDPOINT", server.url),
                        ("MODELSCOPE_HOME", str(tmp_path / "ms-home")), ("HF_HOME", str(tmp_path / "hf")),
                        ("TUNEDESK_CACHE", str(tmp_path / "tunedesk")), ("TUNEDESK_REGION", "cn")):
        monkeypatch.setenv(name, value)
    modelscope_hub.config.set_default_config(None)
    yield server
    server.stop()
    modelscope_hub.config.set_default_config(None)


@pytest.mark.parametrize("prefix, route", [("ms:", "/api/v1/datasets/team/identity-qa/repo"),
                                           ("hf:", "/datasets/team/identity-qa/resolve/")])
def test_a_hub_dataset_is_downloaded_and_read_with_its_splits(hub: FakeHub, prefix: str, route: str):
    normalized, report = read_samples(data_config(f"{prefix}{REPO}?subset=data"))
    assert report.format == "alpaca" and normalized.splits.count("train") == 30
    assert normalized.splits.count("valid") == 4  # data/validation.jsonl: the evaluation split
    assert normalized.samples[0].messages[0]["content"] == "问题 0"  # UTF-8 as written
    assert any(r.startswith(route) for r in hub.requests), hub.requests
    # a second read comes from the cache: the hub is not asked for the files again
    hub.requests.clear()
    hub.down.update({"hf", "modelscope"})
    hub_name = "modelscope" if prefix == "ms:" else "hf"
    hub.down.discard(hub_name)  # the listing is asked again (a changed dataset is a new revision)
    again, _ = read_samples(data_config(f"{prefix}{REPO}?subset=data&split=validation"))
    assert again.splits == ["train"] * 4 and not any("resolve" in r or "FilePath" in r for r in hub.requests)


def test_auto_falls_back_to_the_other_hub_and_the_explorer_reads_it(hub: FakeHub, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TUNEDESK_REGION", "other")  # Hugging Face first; it fails, ModelScope answers
    hub.down.add("hf")
    explorer = DatasetExplorer(tmp_path / "work")
    page = explorer.preview(DatasetChoice(f"{REPO}?subset=chat", model=str(_tokenizer_model(tmp_path))), 1, 1)
    assert page["rows_total"] == 1 and page["format"] == "openai"
    assert any(r.startswith("/api/v1/datasets/team/identity-qa/repo") for r in hub.requests)


def test_bad_hub_datasets_are_explained(hub: FakeHub):
    with pytest.raises(DataError, match="has no subset 'nope'; its folders are: chat, data"):
        read_samples(data_config(f"ms:{REPO}?subset=nope"))
    with pytest.raises(DataError, match="has no 'test' split"):
        read_samples(data_config(f"hf:{REPO}?subset=data&split=test"))
    with pytest.raises(DataError, match="no dataset team/missing on ModelScope.*no dataset team/missing on Hugging"):
        read_samples(data_config("team/missing"))
    hub.add_dataset("team/script-only", {"script-only.py": b"print('a loading script')\n"})
    with pytest.raises(DataError, match="holds no .json, .jsonl, .csv, .tsv, .parquet file"):
        read_samples(data_config("hf:team/script-only"))


def _tokenizer_model(tmp_path: Path) -> Path:
    from tests.conftest import build_tiny_model

    return build_tiny_model(tmp_path / "tiny")


def test_the_explorer_shows_a_hub_datasets_download_then_its_statistics(hub: FakeHub, tmp_path: Path):
    import time

    rows = [{"instruction": f"Question {i}: " + "words " * 20, "output": f"Answer {i}"} for i in range(20_000)]
    hub.add_dataset("team/big", {"train.jsonl": lines(rows)})
    hub.throttle_bps = 2 * 2**20  # about 3 MiB: a second and a half, in 1 MiB steps
    explorer = DatasetExplorer(tmp_path / "work")
    job = explorer.start_inspect(DatasetChoice("hf:team/big", model=str(_tokenizer_model(tmp_path))), token_sample=50)
    seen: list[tuple[float, str]] = []
    while explorer.jobs.status(job)["state"] == "running":
        status = explorer.jobs.status(job)
        seen.append((status["progress"], status["message"]))
        time.sleep(0.05)
    assert explorer.jobs.status(job)["state"] == "done", explorer.jobs.status(job)
    downloading = [p for p, m in seen if "MiB downloaded" in m]
    assert len(set(downloading)) >= 2 and max(downloading) <= 0.3, seen[:20]
    progress = [p for p, _ in seen]
    assert progress == sorted(progress)  # the bar never moves back when the statistics start
    assert explorer.jobs.get(job).result["rows"] == 20_000
