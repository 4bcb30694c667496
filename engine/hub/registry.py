"""Checking and registering a user's own model folder or GGUF file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.locations import cache_root

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def registry_path() -> Path:
    return cache_root() / "registered_models.json"


def check_model_path(path: str | Path) -> dict[str, Any]:
    """What a folder (or .gguf) holds; raises ModelError naming every missing part and the fix."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"{p} does not exist")
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise ModelError(f"{p.name} is a file but not a .gguf: register the model's folder instead")
        with p.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelError(f"{p.name} does not start with the GGUF magic bytes: a partial or corrupt download?")
        return {"folder": str(p.resolve()), "kind": "gguf", "size_gb": round(p.stat().st_size / 2**30, 3)}
    missing = []
    config = p / "config.json"
    if not config.is_file():
        missing.append("config.json (the model's architecture)")
    else:
        try:
            json.loads(config.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{config} is not valid JSON (line {exc.lineno}): {exc.msg}; re-download it") from exc
    if not any((p / name).is_file() for name in TOKENIZER_FILES):
        missing.append("a tokenizer (tokenizer.json or tokenizer.model)")
    weights = [w for pattern in WEIGHT_PATTERNS for w in p.glob(pattern)]
    ggufs = list(p.glob("*.gguf"))
    if not weights and not ggufs:
        missing.append("weights (*.safetensors or pytorch_model*.bin, or a .gguf file)")
    if missing:
        raise ModelError(f"{p} is not a complete model folder: missing {'; '.join(missing)}. Copy the whole "
                         "model repository (all files) into the folder.")
    size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return {"folder": str(p.resolve()), "kind": "folder", "size_gb": round(size / 2**30, 3)}


def registered() -> list[str]:
    try:
        paths = json.loads(registry_path().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [p for p in paths if isinstance(p, str)]


def register(path: str | Path) -> dict[str, Any]:
    info = check_model_path(path)
    paths = [p for p in registered() if p != info["folder"]] + [info["folder"]]
    _write(paths)
    return info


def unregister(path: str) -> None:
    _write([p for p in registered() if p != path])


def _write(paths: list[str]) -> None:
    target = registry_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(paths, indent=1), encoding="utf-8")
    os.replace(tmp, target)


def weights_complete(folder: Path) -> bool:
    """Weights are there, every shard its index names included (file checks only, nothing loaded): a
    download cut short leaves the small files without them."""
    if any(folder.glob("*.gguf")):
        return True
    if not any(w for pattern in WEIGHT_PATTERNS for w in folder.glob(pattern)):
        return False
    for index in folder.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values())
        except (OSError, json.JSONDecodeError, AttributeError):
            return False
        if not all((folder / shard).is_file() for shard in shards):
            return False
    return True
