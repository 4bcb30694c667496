"""Writing a transformers model folder as one GGUF file, with the `gguf` package (no llama.cpp checkout):
tensors renamed by gguf's TensorNameMap, f16 / bf16 / q8_0 through gguf's own quantizers, the hyper-
parameters llama.cpp reads, and the tokenizer (byte-level BPE: tokens, types, merges, special ids) with
the chat template embedded, so Ollama, llama.cpp and LM Studio run the file on its own.

Llama-architecture models (Llama 3, SmolLM2) store q and k with Hugging Face's rotary layout; llama.cpp's
"llama" architecture expects the original interleaved one, so those two are permuted back here (what
llama.cpp's own converter does). Qwen2 / Qwen3 use the NeoX rotary layout on both sides: no permutation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ModelError

QUANTS = ("f16", "bf16", "q8_0")
# transformers architecture -> gguf architecture name
ARCHES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}


def supported() -> str:
    return ", ".join(f"{k} ({v})" for k, v in ARCHES.items())


def write_gguf(folder: Path, target: Path, quant: str = "f16", name: str = "",
               progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    import gguf

    progress = progress or (lambda f, m: None)
    if quant not in QUANTS:
        raise ModelError(f"GGUF quantization '{quant}': choose one of {', '.join(QUANTS)}")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    arch_name = (config.get("architectures") or ["?"])[0]
    if arch_name not in ARCHES:
        raise ModelError(f"the GGUF writer does not support {arch_name} yet; it writes {supported()}. Export a "
                         "merged model instead and convert it with llama.cpp's convert_hf_to_gguf.py")
    arch = ARCHES[arch_name]
    model_arch = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2,
                  "qwen3": gguf.MODEL_ARCH.QWEN3}[arch]
    layers = int(config["num_hidden_layers"])
    heads, kv_heads = int(config["num_attention_heads"]), int(config.get("num_key_value_heads") or
                                                               config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or config["hidden_size"] // heads)
    names = gguf.get_tensor_name_map(model_arch, layers)
    writer = gguf.GGUFWriter(str(target), arch)
    writer.add_name(name or folder.name)
    writer.add_context_length(int(config.get("max_position_embeddings") or 4096))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps") or 1e-6))
    writer.add_rope_freq_base(float(_rope_theta(config)))
    writer.add_rope_dimension_count(head_dim)
    _add_rope_scaling(writer, config)
    if arch == "qwen3" or head_dim != int(config["hidden_size"]) // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_vocab_size(int(config["vocab_size"]))
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quant]
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    template = _add_tokenizer(writer, folder, config)
    tensors = _tensors(folder)
    tied = bool(config.get("tie_word_embeddings")) or "lm_head.weight" not in tensors
    count = 0
    for i, (hf_name, load) in enumerate(sorted(tensors.items())):
        if hf_name == "lm_head.weight" and tied:
            continue
        new_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            if "rotary_emb" in hf_name:
                continue
            raise ModelError(f"the GGUF writer does not know the tensor {hf_name} of {arch_name}")
        data = load()
        if arch == "llama" and hf_name.endswith(("q_proj.weight", "k_proj.weight")):
            data = _permute(data, heads, heads if "q_proj" in hf_name else kv_heads)
        data, raw_shape, raw_dtype = _encode(data, quant, gguf)
        writer.add_tensor(new_name, data, raw_shape=raw_shape, raw_dtype=raw_dtype)
        count += 1
        progress(0.2 + 0.6 * (i + 1) / len(tensors), f"tensor {new_name}")
    progress(0.85, "writing the file…")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"architecture": arch, "tensors": count, "quant": quant, "chat_template": template}


def _add_rope_scaling(writer: Any, config: dict[str, Any]) -> None:
    """A run trained with RoPE scaling keeps it in llama.cpp (linear and YaRN; GGUF has no dynamic)."""
    import gguf

    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    kind = params.get("rope_type", params.get("type", "default")) if isinstance(params, dict) else "default"
    if kind in ("default", None):
        return
    if kind not in ("linear", "yarn"):
        raise ModelError(f"this model scales RoPE as {kind!r}, which GGUF cannot record (llama.cpp knows linear and "
                         "yarn): export it as merged safetensors, or train with rope_scaling linear or yarn")
    writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR if kind == "linear" else gguf.RopeScalingType.YARN)
    writer.add_rope_scaling_factor(float(params["factor"]))
    if kind == "yarn":
        writer.add_rope_scaling_orig_ctx_len(int(params.get("original_max_position_embeddings") or
                                                 config.get("max_position_embeddings") or 4096))


def _rope_theta(config: dict[str, Any]) -> float:
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    return config.get("rope_theta") or (params.get("rope_theta") if isinstance(params, dict) else None) or 10000.0


def _tensors(folder: Path) -> dict[str, Callable[[], Any]]:
    """Every weight, loaded lazily as a float32 numpy array."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelError(f"{folder} holds no .safetensors weights to convert")
    out: dict[str, Callable[[], Any]] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 - safe_open handles are not mappings
                out[key] = (lambda f=file, k=key: _load(f, k))
    return out


def _load(file: Path, key: str) -> Any:
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as fh:
        return fh.get_tensor(key).float().numpy()


def _permute(weights: Any, n_head: int, n_head_kv: int) -> Any:
    """Hugging Face's rotary layout (halves) back to llama.cpp's (interleaved pairs), per head."""
    heads = n_head_kv
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _encode(data: Any, quant: str, gguf: Any) -> tuple[Any, Any, Any]:
    import numpy as np

    if data.ndim < 2:  # norms and biases stay float32, as in llama.cpp's own files
        return data.astype(np.float32), None, None
    if quant == "f16":
        return data.astype(np.float16), None, None
    qtype = gguf.GGMLQuantizationType.BF16 if quant == "bf16" else gguf.GGMLQuantizationType.Q8_0
    try:
        packed = gguf.quantize(data.astype(np.float32), qtype)
    except gguf.QuantError:  # rows not a multiple of the block size: f16 for this tensor
        return data.astype(np.float16), None, None
    return packed, None, qtype  # the writer reads the element shape from the packed bytes itself


def _add_tokenizer(writer: Any, folder: Path, config: dict[str, Any]) -> bool:
    """Byte-level BPE (Llama 3, Qwen, SmolLM2): tokens, their types, merges, special ids, chat template."""
    import gguf
    from transformers import AutoTokenizer

    raw = folder / "tokenizer.json"
    if not raw.is_file():
        raise ModelError(f"{folder} has no tokenizer.json: the GGUF writer embeds byte-level BPE tokenizers only")
    spec = json.loads(raw.read_text(encoding="utf-8"))
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise ModelError(f"the tokenizer is {model.get('type')}, not byte-level BPE: the GGUF writer cannot embed it")
    tok = AutoTokenizer.from_pretrained(folder)
    vocab = tok.get_vocab()
    size = max(int(config["vocab_size"]), max(vocab.values()) + 1)
    by_id = {i: t for t, i in vocab.items()}
    added = {a.content: a for a in tok.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(size):
        text = by_id.get(i)
        if text is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif text in added:
            tokens.append(text)
            types.append(gguf.TokenType.CONTROL if added[text].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(text)
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(vocab, config))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for token, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                       ("pad", writer.add_pad_token_id)):
        token_id = getattr(tok, f"{token}_token_id")
        if token_id is not None:
            add(int(token_id))
    writer.add_add_bos_token(bool(getattr(tok, "add_bos_token", False)))
    if tok.chat_template:
        writer.add_chat_template(tok.chat_template if isinstance(tok.chat_template, str)
                                 else json.dumps(tok.chat_template))
    return bool(tok.chat_template)


def _pre_tokenizer(vocab: dict[str, int], config: dict[str, Any]) -> str:
    """llama.cpp's name for how text is split before BPE (it picks its regex by this name)."""
    model_type = config.get("model_type", "")
    if model_type in ("qwen2", "qwen3"):
        return "qwen2"
    if "<|begin_of_text|>" in vocab:
        return "llama-bpe"
    if "<|im_start|>" in vocab and len(vocab) < 60000:
        return "smollm"
    return "default"
