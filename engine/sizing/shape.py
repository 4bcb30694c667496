"""A model's shape from its config.json alone (no weights read), and the parameter count it implies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 0  # 0: hidden // heads
    tied_embeddings: bool = False
    context: int = 0
    architecture: str = ""
    qk_norm: bool = False  # Qwen3 normalises queries and keys per head

    @property
    def family(self) -> str:
        """The model type the architecture's name implies (Qwen2ForCausalLM → qwen2), as config.json names it."""
        return self.architecture.split("For")[0].lower()

    @property
    def dim(self) -> int:
        return self.head_dim or self.hidden // self.heads

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of each linear layer in one decoder block: q, k, v, o, gate, up, down."""
        q, kv = self.heads * self.dim, self.kv_heads * self.dim
        return [(self.hidden, q), (self.hidden, kv), (self.hidden, kv), (q, self.hidden),
                (self.hidden, self.intermediate), (self.hidden, self.intermediate), (self.intermediate, self.hidden)]

    @property
    def linear_params(self) -> int:
        return self.layers * sum(i * o for i, o in self.linear_shapes())

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden + (2 * self.layers * self.dim if self.qk_norm else 0)
        return self.linear_params + self.embedding_params + norms

    def lora_params(self, rank: int) -> int:
        return self.layers * sum(rank * (i + o) for i, o in self.linear_shapes())


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    """Llama / Qwen2 / Qwen3 / Mistral style keys, and ChatGLM / GLM-4's own names."""
    try:
        hidden = config.get("hidden_size") or config["n_embd"]
        heads = config.get("num_attention_heads") or config["n_head"]
        layers = config.get("num_hidden_layers") or config.get("num_layers") or config["n_layer"]
        kv = config.get("num_key_value_heads") or config.get("multi_query_group_num") or heads
        if config.get("multi_query_attention") is False:
            kv = heads
        inter = config.get("intermediate_size") or config.get("ffn_hidden_size") or 4 * hidden
        vocab = config.get("vocab_size") or config.get("padded_vocab_size")
    except KeyError as exc:
        raise ModelError(f"config.json has no {exc.args[0]}: cannot tell the model's size") from exc
    if not vocab:
        raise ModelError("config.json has no vocab_size: cannot tell the model's size")
    arch = (config.get("architectures") or [config.get("model_type", "")])[0]
    return ModelShape(int(layers), int(hidden), int(inter), int(heads), int(kv), int(vocab),
                      int(config.get("head_dim") or 0), bool(config.get("tie_word_embeddings", False)),
                      int(config.get("max_position_embeddings") or config.get("seq_length") or 0), arch,
                      config.get("model_type") in ("qwen3", "qwen3_moe"))


def shape_from_folder(folder: str | Path) -> ModelShape:
    path = Path(folder) / "config.json"
    try:
        return shape_from_config(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ModelError(f"{folder} has no config.json: is it a model folder?") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from exc
