"""RoPE scaling (the `rope_scaling` and `rope_factor` fields): a longer context than the model was
pretrained for, by stretching its rotary positions (linear), stretching them only past the pretrained
length (dynamic), or YaRN's interpolation by frequency. The model is loaded with the scaled config, a fully
fine-tuned model saves it, and a LoRA run's base is loaded with it wherever the run's model is used
(Compare Chat, the endpoint, exports), so the run answers as it was trained."""

from __future__ import annotations

from typing import Any

from engine.errors import ModelError

NO_SCALING = ("none", 1.0)  # (rope_scaling, rope_factor) of a model used as pretrained


def scaled_config(path: str, scaling: str, factor: float, trust_remote_code: bool = False) -> Any | None:
    """The model's config with its RoPE scaled, or None when no scaling is asked for."""
    if scaling in ("", "none"):
        return None
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    params = getattr(config, "rope_parameters", None)
    theta = (params or {}).get("rope_theta") if isinstance(params, dict) else None
    theta = theta or getattr(config, "rope_theta", None)
    if theta is None:
        raise ModelError(f"rope_scaling: {path} has no rotary position embeddings to scale "
                         f"({config.model_type}); set rope_scaling to none")
    if isinstance(params, dict) and params.get("rope_type", "default") != "default":
        raise ModelError(f"rope_scaling: {path} already scales its positions ({params['rope_type']}); set "
                         "rope_scaling to none to keep the model's own")
    pretrained = int(getattr(config, "max_position_embeddings", 0) or 4096)
    config.rope_parameters = {"rope_type": scaling, "factor": float(factor), "rope_theta": float(theta),
                              **({"original_max_position_embeddings": pretrained} if scaling == "yarn" else {})}
    if scaling in ("linear", "yarn"):  # the context the stretched positions reach
        config.max_position_embeddings = int(pretrained * factor)
    return config


def config_kwargs(path: str, scaling: str, factor: float, trust_remote_code: bool = False) -> dict[str, Any]:
    """from_pretrained's `config=` where the run scales RoPE; nothing otherwise."""
    config = scaled_config(path, scaling, factor, trust_remote_code)
    return {"config": config} if config is not None else {}
