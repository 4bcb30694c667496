"""Models on disk: a real Hugging Face cache layout listed with the right sizes and deleted cleanly;
local folders validated before they are registered; nothing deleted that was not asked for."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.modelhub.cache import delete_model, list_models
from engine.modelhub.local import check_model_path, register, registered


def hf_cache_with(model: Path, cache: Path, repo_id: str) -> int:
    """The layout huggingface_hub writes: blobs by hash, snapshot files linking to them, refs/main."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    total = 0
    for f in model.iterdir():
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / f.name)
        total += len(data)
    return total


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "tunedesk"))
    return tmp_path


def test_hf_cache_listed_with_sizes_and_deleted(caches: Path, tiny_model: Path):
    size = hf_cache_with(tiny_model, caches / "hf", "tunedesk/tiny-qwen3")
    models = {m["id"]: m for m in list_models() if m["source"] == "hf"}
    assert models["tunedesk/tiny-qwen3"]["size_gb"] == round(size / 2**30, 3)
    folder = models["tunedesk/tiny-qwen3"]["folder"]
    assert delete_model(folder).startswith("deleted")
    assert not Path(folder).exists() and not any(m["source"] == "hf" for m in list_models())


def test_register_validates_and_delete_keeps_files_unless_asked(caches: Path, tiny_model: Path, tmp_path: Path):
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"missing a tokenizer .*; weights \(\*.safetensors"):
        register(partial)
    (partial / "config.json").write_text("{broken")
    with pytest.raises(ModelError, match="config.json is not valid JSON"):
        check_model_path(partial)
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>404</html>")
    with pytest.raises(ModelError, match="GGUF magic bytes"):
        register(fake)
    mine = tmp_path / "mine"
    shutil.copytree(tiny_model, mine)
    info = register(mine)
    assert registered() == [str(mine.resolve())] and info["size_gb"] >= 0
    local = next(m for m in list_models() if m["source"] == "local")
    assert local["folder"] == str(mine.resolve())
    assert "files are kept" in delete_model(local["folder"])
    assert mine.is_dir() and registered() == []
    register(mine)
    delete_model(str(mine.resolve()), delete_files=True)
    assert not mine.exists()
    with pytest.raises(ModelError, match="not among the models"):
        delete_model("/etc")
