"""ModelScope for real over HTTP: the loopback hub (tests/hub_server.py) speaks ModelScope's routes as
modelscope_hub calls them; MODELSCOPE_DOMAIN points at it. Search, the model page, a download with
progress into ModelScope's cache (listed and loadable), a wrong checksum, and `auto` falling back from one
hub to the other in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.hub.disk import list_models
from engine.hub.download import DownloadManager
from engine.hub.info import search_models
from engine.hub.model_page import model_page
from tests.hub_server import FakeHub
from tests.test_model_download import REPO, WEIGHTS, follow, wait_for


@pytest.fixture
def hub(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import modelscope_hub.config

    server = FakeHub()
    server.add_folder(REPO, tiny_model)
    server.start()
    monkeypatch.setenv("MODELSCOPE_DOMAIN", server.url)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "ms-home"))  # no saved token of the developer's
    monkeypatch.setenv("MODELSCOPE_DOWNLOAD_INTRA_CLOUD", "false")
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "tunedesk"))
    monkeypatch.setenv("TUNEDESK_REGION", "cn")  # auto tries ModelScope first
    modelscope_hub.config.set_default_config(None)  # the library reads its settings once per process
    yield server
    server.stop()
    modelscope_hub.config.set_default_config(None)


def test_search_and_model_page_on_modelscope(hub: FakeHub):
    found = search_models("tiny", source="modelscope")
    assert [(r["id"], r["hub"], r["downloads"]) for r in found] == [(REPO, "modelscope", 7)]
    page = model_page(REPO, source="modelscope")
    assert page["hub"] == "modelscope" and page["licence"] == "apache-2.0"
    assert page["shape"]["layers"] == 2 and page["chat_template"] is True
    assert page["download_gb"] > 0 and set(page["memory"]) == {"full", "lora", "qlora4"}
    assert page["plan"]["method"] == "lora" and page["plan"]["max_seq_length"] == 1024  # a small model: LoRA fits
    assert any(r.startswith("/api/v1/models/tiny-org/tiny-qwen3/repo") for r in hub.requests)


def test_a_modelscope_download_shows_progress_and_lands_in_its_cache(hub: FakeHub, tmp_path: Path):
    hub.throttle_bps = 40 * 2**20
    status, seen = follow(DownloadManager(), REPO, "modelscope")
    assert status["state"] == "done", status
    assert status["hub"] == "modelscope" and status["bytes"] >= len(hub.repos[REPO].files[WEIGHTS])
    assert len({b for b in seen if 0 < b < status["total"]}) >= 3  # progress moved in steps
    folder = Path(status["folder"])
    assert folder.is_relative_to(tmp_path / "ms") and (folder / WEIGHTS).stat().st_size == len(
        hub.repos[REPO].files[WEIGHTS])
    listed = [m for m in list_models() if m["source"] == "modelscope"]
    assert [(m["id"], Path(m["folder"])) for m in listed] == [(REPO, folder)]
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(folder).num_parameters() > 0


def test_a_wrong_modelscope_checksum_fails_the_download_and_keeps_no_weights(hub: FakeHub, tmp_path: Path):
    hub.repos[REPO].wrong_sha256.add(WEIGHTS)
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="modelscope"), timeout=120)
    assert status["state"] == "failed", status
    assert "ModelScope" in status["error"] and REPO in status["error"]
    assert list((tmp_path / "ms").rglob(WEIGHTS)) == []  # nothing that looks complete is left to load
    assert not any(m["source"] == "modelscope" for m in list_models())


@pytest.mark.parametrize(("region", "down", "used"), [("cn", "modelscope", "hf"), ("other", "hf", "modelscope")])
def test_auto_falls_back_to_the_other_hub(hub: FakeHub, monkeypatch: pytest.MonkeyPatch, region: str, down: str,
                                          used: str):
    monkeypatch.setenv("TUNEDESK_REGION", region)
    hub.down.add(down)
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="auto"), timeout=120)
    assert status["state"] == "done", status
    assert status["hub"] == used
