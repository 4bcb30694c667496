"""How a new LoRA adapter starts (the `lora_init` field), and what that means for saving it.

default: A random, B zero, so the model starts as the base. pissa / olora: A and B are taken from each
weight's principal components (PiSSA) or its QR decomposition (OLoRA) and the base keeps the residual, so
the model still starts as the base but training moves its main directions first. That residual base is
PEFT's working form: the final adapter is converted (PEFT's `path_initial_model_for_weight_conversion`,
twice the rank) so it applies to the untouched base, in Compare Chat, exports and other tools alike;
checkpoints stay in the working form, to resume from. loftq (QLoRA, 4-bit): A and B are chosen so that
the quantized base plus the adapter is closer to the unquantized weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ModelError

CONVERTED = ("pissa", "olora")  # adapters saved converted, with checkpoints in PEFT's residual form
INITIAL_DIR = "lora_init"  # in the run: the untrained adapter, which the conversion subtracts


def peft_init(config: TrainConfig) -> bool | str:
    """LoraConfig's init_lora_weights for the run (LoftQ is applied after, see `prepare`)."""
    # PiSSA through a fast randomised SVD (16 iterations): seconds where the exact SVD takes minutes
    return {"pissa": "pissa_niter_16", "olora": "olora"}.get(config.lora_init, True)


def check_machine(config: TrainConfig) -> None:
    """Refuse an initialisation this machine cannot compute, before any model is loaded."""
    if config.uses_lora and config.lora_init == "loftq":
        import torch

        if not torch.cuda.is_available():
            raise ModelError("lora_init loftq: PEFT computes LoftQ's initialisation on an NVIDIA GPU, and this machine "
                             "has none; use lora_init default here")


def prepare(model: Any, config: TrainConfig, run_path: Path, model_path: str, keep: bool = True) -> str:
    """After the adapter is made: keep what the final save needs (`keep`: in one process of several), or
    apply LoftQ. Returns a log line."""
    if config.lora_init in CONVERTED:
        if keep:
            lora = model.peft_config["default"]
            asked, lora.init_lora_weights = lora.init_lora_weights, True  # saved as a plain adapter, as PEFT asks
            model.save_pretrained(str(run_path / INITIAL_DIR))
            lora.init_lora_weights = asked
        return (f"lora_init {config.lora_init}: the adapter starts from the weights' main directions; the final "
                "adapter is converted to apply to the unchanged base (twice the rank)")
    if config.lora_init == "loftq":
        from peft import replace_lora_weights_loftq

        check_machine(config)
        folder = Path(model_path)
        if not ((folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file()):
            raise ModelError(f"lora_init loftq reads the unquantized base weights from safetensors files, and "
                             f"{model_path} has none (model.safetensors or its index); use lora_init default")
        replace_lora_weights_loftq(model, model_path=str(folder))
        return "lora_init loftq: the adapter starts where the 4-bit base plus it is closest to the original weights"
    return ""


def save_final(model: Any, folder: Path, config: TrainConfig, run_path: Path) -> None:
    """The final adapter as the untouched base needs it (PiSSA / OLoRA), over what the trainer saved."""
    if config.lora_init in CONVERTED and (run_path / INITIAL_DIR).is_dir():
        model.save_pretrained(str(folder), path_initial_model_for_weight_conversion=str(run_path / INITIAL_DIR))
