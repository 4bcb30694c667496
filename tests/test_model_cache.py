"""Models on disk: a real Hugging Face cache layout listed with the right sizes and deleted cleanly;
local folders validated before they are registered; nothing deleted that was not asked for."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.hub.disk import delete_model, list_models
from engine.hub.registry import check_model_path, register, registered


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
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
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


def test_modelscope_downloads_are_listed_by_repository_and_deleted_whole(caches: Path, tiny_model: Path):
    """What the ModelScope client writes (models/<owner>--<name>/snapshots/<revision>/) is a model on disk,
    named by its repository, that the Train tab can load; deleting it removes every revision."""
    repo = caches / "ms" / "models" / "tunedesk--tiny-qwen3"
    shutil.copytree(tiny_model, repo / "snapshots" / "master")
    models = {m["id"]: m for m in list_models() if m["source"] == "modelscope"}
    folder = models["tunedesk/tiny-qwen3"]["folder"]
    assert Path(folder) == repo / "snapshots" / "master" and (Path(folder) / "config.json").is_file()
    assert delete_model(folder).startswith("deleted")
    assert not repo.exists() and not any(m["source"] == "modelscope" for m in list_models())


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


def test_structure_on_the_meta_device(tiny_model: Path):
    from transformers import AutoModelForCausalLM

    from engine.hub.structure import model_structure
    from engine.sizing.catalog import find

    local = model_structure(str(tiny_model))
    real = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert local["params"] == sum(p.numel() for p in real.parameters()) == sum(local["by_type"].values())
    assert "Qwen3DecoderLayer" in local["tree"] and local["layers"] == 2
    tm = local["treemap"]
    children = sum(v for v, parent in zip(tm["values"], tm["parents"], strict=True) if parent == tm["ids"][0])
    assert tm["values"][0] == children  # a valid "total" treemap, tied embeddings and all
    assert len(set(tm["ids"])) == len(tm["ids"]) and set(tm["parents"]) - {""} <= set(tm["ids"])
    catalogue = model_structure("Qwen3-0.6B")
    assert catalogue["params"] == find("Qwen3-0.6B").shape.params  # the meta model agrees with the estimator
    with pytest.raises(ModelError, match="needs its own remote code"):
        model_structure("ChatGLM3-6B")
    with pytest.raises(ModelError, match="not in TuneDesk's catalogue"):
        model_structure("someone/unknown")
