"""GGUF files as trainable models. Any GGUF (the bundled SmolLM2, or a user's) is converted once into a
safetensors folder in TuneDesk's cache, because reloading that folder takes under a second while
dequantizing the GGUF takes about 40 s on two cores."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.locations import cache_root
from engine.models.gguf_read import parsed_once


def converted_gguf(gguf: Path, log: Any = print) -> Path:
    """A GGUF file as a safetensors folder in TuneDesk's cache, converted the first time it is used.

    Keyed by path, size and modification time, so a replaced file is converted again."""
    info = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:10]
    target = cache_root() / "models" / f"{gguf.stem}-{key}"
    if (target / "config.json").is_file():  # the folder is renamed into place only once complete
        return target
    log(f"converting {gguf.name} to a safetensors folder once (about a minute for a small model)…")
    started = time.time()
    model, tok = load_gguf(gguf.parent, gguf.name)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    log(f"{gguf.name} ready at {target} ({time.time() - started:.0f} s)")
    return target


def load_gguf(folder: Path, gguf_file: str) -> tuple[Any, Any]:
    """Dequantize a GGUF into a plain, trainable and saveable transformers model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with parsed_once():
            tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
            packed = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    except Exception as exc:
        raise ModelError(f"could not read GGUF {folder / gguf_file}: {exc}") from exc
    config = packed.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantized; the copy below is a plain model
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(packed.state_dict(), assign=True)
    model.generation_config = packed.generation_config
    model.tie_weights()
    return model, tok
