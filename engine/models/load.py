"""Loading a resolved model and its tokenizer for training, with LoRA or QLoRA applied."""

from __future__ import annotations

from typing import Any

from engine.config.train_config import TrainConfig
from engine.data.encode import CHATML_TEMPLATE
from engine.errors import ModelError
from engine.models.levers import resolve_levers
from engine.models.lora_init import peft_init
from engine.models.precision import torch_dtype
from engine.models.resolve import ResolvedModel
from engine.models.rope import NO_SCALING, config_kwargs


def load_tokenizer(resolved: ResolvedModel, config: TrainConfig) -> Any:
    from transformers import AutoTokenizer


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

    kwargs: dict[str, Any] = {"trust_remote_code": config.trust_remote_code,
                              "attn_implementation": resolve_levers(config).attention,
                              **config_kwargs(resolved.path, config.rope_scaling, config.rope_factor,
                                              config.trust_remote_code)}
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


def load_base(path: str, dtype: Any, trust_remote_code: bool = False, rope: tuple[str, float] = NO_SCALING,
              stack: tuple[str, ...] = (), **extra: Any) -> Any:
    """A base model as a run used it, outside training (Compare Chat, the endpoint, exports): its RoPE
    scaling applied and the adapters it stacks on merged in. A failed merge is a ModelError; a failed load
    is transformers' own error, for the caller to explain."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code,
                                                 **config_kwargs(path, *rope, trust_remote_code), **extra)
    return merge_adapters(model, stack)


def merge_adapters(model: Any, folders: list[str] | tuple[str, ...]) -> Any:
    """The base with each adapter merged into it in turn: where a stacked run's own adapter applies."""
    if not folders:
        return model
    from peft import PeftModel

    for folder in folders:
        try:
            model = PeftModel.from_pretrained(model, folder).merge_and_unload()
        except Exception as exc:
            raise ModelError(f"the adapter in {folder}, which this model stacks on, does not fit the base "
                             f"({str(exc).splitlines()[0][:300]}): was it moved, or trained on another base?") from exc
    return model


def _load_hint(resolved: ResolvedModel, exc: Exception, config: TrainConfig) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "trust_remote_code" in str(exc) and not config.trust_remote_code:
        return (f"model {resolved.path} ships its own code: tick trust_remote_code if you trust its authors "
                f"({text})")
    if "bitsandbytes" in str(exc).lower():
        return f"QLoRA could not load the model with bitsandbytes: {text}. Try finetuning_type lora."
    return f"could not load the model from {resolved.path}: {text}"


def apply_lora(model: Any, config: TrainConfig, parent: str = "") -> Any:
    """A new adapter from the config's LoRA settings, or, given `parent` (an adapter folder), that adapter
    loaded trainable to train further."""
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

    if config.finetuning_type == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.enable_input_require_grads()
    if parent:
        try:
            return PeftModel.from_pretrained(model, parent, is_trainable=True)
        except Exception as exc:
            raise ModelError(f"adapter_name_or_path: the adapter in {parent} does not fit this model "
                             f"({str(exc).splitlines()[0][:300]}): was it trained on another base?") from exc
    target = config.lora_target.strip()
    modules: Any = "all-linear" if target == "all-linear" else [t.strip() for t in target.split(",") if t.strip()]
    save = [m.strip() for m in config.lora_modules_to_save.split(",") if m.strip()] or None
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in save or [] if m not in names]
    if missing:
        raise ModelError(f"lora_modules_to_save: this model has no module named {', '.join(missing)} (for new "
                         "tokens: embed_tokens,lm_head)")
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=modules, task_type="CAUSAL_LM", use_dora=config.use_dora,
                      use_rslora=config.use_rslora, modules_to_save=save, init_lora_weights=peft_init(config),
                      # tied input and output embeddings (SmolLM2, Qwen3-0.6B) must stay one trained copy
                      ensure_weight_tying=bool(save) and bool(getattr(model.config, "tie_word_embeddings", False)))
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise ModelError(f"lora_target {target!r}: {exc}") from exc
