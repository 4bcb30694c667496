"""The check after a download: the files are there and load (config, tokenizer, every weight file's
header), so a damaged or partial download is caught before a training run trips over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.hub.registry import check_model_path


def check_loadable(folder: Path) -> list[str]:
    """What was checked, one line each; raises ModelError naming the file that does not load."""
    folder = Path(folder)
    done = [f"files present ({check_model_path(folder)['size_gb']} GiB)"]
    ggufs = sorted(folder.glob("*.gguf"))
    if ggufs:
        for gguf in ggufs:
            with gguf.open("rb") as fh:
                if fh.read(4) != b"GGUF":
                    raise ModelError(f"{gguf.name} is not a GGUF file (wrong magic bytes): damaged download")
        return [*done, f"{len(ggufs)} GGUF file(s) start correctly"]
    from transformers import AutoConfig, AutoTokenizer

    done.append(_loads("config", lambda: f"config: {type(AutoConfig.from_pretrained(folder)).__name__}"))
    done.append(_loads("tokenizer", lambda: f"tokenizer: {len(AutoTokenizer.from_pretrained(folder)):,} tokens"))
    tensors = sum(_safetensors_count(f) for f in sorted(folder.glob("*.safetensors")))
    _index_complete(folder)
    return [*done, f"weights: {tensors:,} tensors readable"] if tensors else done


def _loads(part: str, load: Any) -> str:
    """What loading one part says; a model that ships its own code is reported, not refused."""
    try:
        return load()
    except Exception as exc:
        if "trust_remote_code" in str(exc):
            return f"{part}: needs the model's own code (tick trust_remote_code in the Train tab)"
        raise ModelError(f"the {part} does not load: {str(exc).splitlines()[0] if str(exc) else exc}") from exc


def _safetensors_count(path: Path) -> int:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            keys = list(fh.keys())
    except Exception as exc:
        raise ModelError(f"{path.name} cannot be read as safetensors ({exc}): damaged download") from exc
    if not keys:
        raise ModelError(f"{path.name} holds no tensors: damaged download")
    return len(keys)


def _index_complete(folder: Path) -> None:
    for index in folder.glob("*.safetensors.index.json"):
        try:
            weight_map: dict[str, Any] = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise ModelError(f"{index.name} is not a valid weight index: damaged download") from exc
        missing = sorted({f for f in weight_map.values() if not (folder / f).is_file()})
        if missing:
            raise ModelError(f"{index.name} lists {', '.join(missing[:3])} but the file is missing: "
                             "start the download again")
