"""A model's structure without reading a weight: the module tree and parameters by block and type,
built on torch's meta device from the model's config (a local folder's, the bundled model's, or one
made from a catalogue entry's shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.hub.info import fetch_config, known_config_folder
from engine.sizing.catalog import find

ROOT = "(model)"  # not "model": Llama-style models have a submodule named model

# catalogue families and the transformers config class that describes them
FAMILIES = (("Qwen3", "Qwen3Config"), ("Qwen2.5", "Qwen2Config"), ("DeepSeek-R1-Distill-Qwen", "Qwen2Config"),
            ("SmolLM2", "LlamaConfig"), ("Llama", "LlamaConfig"), ("GLM-4", "GlmConfig"))


def model_config(model: str) -> Any:
    import transformers

    path = Path(model).expanduser()
    if path.is_dir():
        try:
            return transformers.AutoConfig.from_pretrained(path)
        except Exception as exc:
            raise ModelError(f"{path}: cannot read its config.json ({exc})") from exc
    entry = find(model)
    if entry is None:
        folder = known_config_folder(model)
        if folder is None:
            raise ModelError(f"{model}: not in TuneDesk's catalogue, not cached and not a local model folder; "
                             "open its model page first (that fetches its config.json)")
        return model_config(str(folder))
    cls_name = next((cls for prefix, cls in FAMILIES if entry.name.startswith(prefix)), None)
    if cls_name is None:
        raise ModelError(f"{entry.name} needs its own remote code to be built (trust_remote_code); download it "
                         "to see its structure")
    s = entry.shape
    return getattr(transformers, cls_name)(
        vocab_size=s.vocab, hidden_size=s.hidden, intermediate_size=s.intermediate, num_hidden_layers=s.layers,
        num_attention_heads=s.heads, num_key_value_heads=s.kv_heads, tie_word_embeddings=s.tied_embeddings,
        max_position_embeddings=s.context or 4096, **({"head_dim": s.head_dim} if s.head_dim else {}))


def model_structure(model: str, max_depth: int = 4, fetch: bool = False) -> dict[str, Any]:
    """Module tree (torch's own condensed repr), a treemap of parameters (ids, labels, parents, values)
    down to `max_depth`, and the headline numbers. With `fetch`, a hub model known nowhere on this machine
    has its config.json fetched first."""
    import torch
    from transformers import AutoModelForCausalLM

    if fetch and not Path(model).expanduser().exists() and find(model) is None and model.count("/") == 1:
        fetch_config(model)
    config = model_config(model)
    try:
        with torch.device("meta"):
            net = AutoModelForCausalLM.from_config(config)
    except Exception as exc:  # an architecture this transformers does not know
        raise ModelError(f"{model}: transformers cannot build {type(config).__name__} ({exc})") from exc
    totals: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for name, module in net.named_modules():
        totals[name] = sum(p.numel() for p in module.parameters())
        kinds[name] = type(module).__name__
    ids, labels, parents, values = [], [], [], []
    for name, total in totals.items():
        depth = 0 if not name else name.count(".") + 1
        if depth > max_depth or total == 0:
            continue
        ids.append(name or ROOT)
        labels.append(f"{name.rsplit('.', 1)[-1] or type(net).__name__} ({kinds[name]})")
        parents.append("" if not name else (name.rsplit(".", 1)[0] if "." in name else ROOT))
        values.append(total)
    # tied embeddings: the root's own count has the shared matrix once, its children twice; the treemap
    # needs a parent at least as big as its children
    values[0] = sum(v for v, parent in zip(values, parents, strict=True) if parent == ROOT)
    by_type: dict[str, int] = {}
    seen: set[int] = set()
    for module in net.modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        if own:
            by_type[type(module).__name__] = by_type.get(type(module).__name__, 0) + sum(p.numel() for p in own)
    params = sum(p.numel() for p in net.parameters())  # parameters() yields a shared matrix once
    return {"model": model, "architecture": type(net).__name__, "params": params,
            "layers": config.num_hidden_layers, "hidden": config.hidden_size,
            "heads": config.num_attention_heads, "kv_heads": getattr(config, "num_key_value_heads", None),
            "vocab": config.vocab_size, "context": getattr(config, "max_position_embeddings", None),
            "tree": str(net), "treemap": {"ids": ids, "labels": labels, "parents": parents, "values": values},
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]))}
