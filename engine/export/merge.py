"""A run's result as a standalone model folder: a LoRA adapter merged into its base (fp32 on the CPU, so
the merge adds no rounding), saved as sharded safetensors with the tokenizer, chat template and
generation config; or the adapter on its own."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.inference.sides import SidePlan
from engine.models.load import load_base

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "README.md")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json")


def merged_model(plan: SidePlan, target: Path, shard_size: str = "2GB",
                 progress: Callable[[float, str], None] | None = None,
                 reference: Callable[[Any, Any], None] | None = None) -> Path:
    """Write the run's model (base + adapter merged, or the fully fine-tuned one) into `target`.
    `reference(model, tokenizer)` is called with the run's own model before anything is merged."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress = progress or (lambda f, m: None)
    tok = AutoTokenizer.from_pretrained(plan.tokenizer or plan.full or plan.adapter,
                                        trust_remote_code=plan.trust_remote_code)
    if plan.full:
        progress(0.1, "loading the fine-tuned model…")
        model = AutoModelForCausalLM.from_pretrained(plan.full, dtype=torch.float32,
                                                     trust_remote_code=plan.trust_remote_code)
        if reference:
            progress(0.2, "the run's own answers to check the export against…")
            reference(model, tok)
    else:
        from peft import PeftModel

        progress(0.05, f"loading the base model {plan.base}…")
        base = load_base(plan.resolve_base(), torch.float32, plan.trust_remote_code, plan.rope, plan.stack)
        try:
            adapted = PeftModel.from_pretrained(base, plan.adapter)
        except Exception as exc:
            raise ModelError(f"the adapter in {plan.adapter} does not fit the base model {plan.base} "
                             f"({str(exc).splitlines()[0][:300]})") from exc
        if reference:
            progress(0.2, "the run's own answers to check the export against…")
            reference(adapted, tok)
        progress(0.3, "merging the adapter…")
        model = adapted.merge_and_unload()
    model.config.use_cache = True  # training turned it off; people running the model want it on
    progress(0.5, "saving safetensors…")
    model.save_pretrained(target, max_shard_size=shard_size)
    tok.save_pretrained(target)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(target)
    return target


def adapter_only(plan: SidePlan, target: Path) -> list[str]:
    """Copy the adapter; a run trained on top of other adapters (create_new_adapter) applies only to the base
    with those merged in, so they are copied beside it as below-1, below-2 … in the order they are merged.
    Returns those folders' names."""
    if not plan.adapter:
        raise ModelError(f"{plan.label} is a fully fine-tuned model, not an adapter: export it as a merged model")
    target.mkdir(parents=True, exist_ok=True)
    _copy_adapter(Path(plan.adapter), target)
    below = []
    for n, folder in enumerate(plan.stack, start=1):
        below.append(f"below-{n}")
        _copy_adapter(Path(folder), target / below[-1])
    return below


def _copy_adapter(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES + TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def describe(folder: Path) -> dict[str, Any]:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {"folder": str(folder), "files": sorted(p.name for p in folder.iterdir()), "size_gb": round(size / 2**30, 3)}
