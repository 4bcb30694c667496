"""The loss computed from the output layer only where a token is trained.

A causal LM's forward pass projects every position onto the whole vocabulary (49k–152k columns), then
the loss ignores prompt, padding and each sample's first token. On a small model that projection is a
fifth or more of the FLOPs, and its logits (positions × vocabulary, fp32) are the largest activation.
Here the backbone runs as usual and the output layer sees only the positions whose next token is a
target; the result is the same loss (same sum, same divisor as transformers' own loss) and the same
gradients.

Only for model families whose output is a plain projection of the last hidden state (no logit soft-
capping or scaling, no router loss); others, and DDP-wrapped models, take the model's own loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.data.encode import IGNORE

PLAIN_HEAD = frozenset({"llama", "qwen2", "qwen3", "mistral", "glm", "glm4", "phi3", "smollm3", "olmo2"})
CHUNK_ELEMENTS = 1 << 26  # logits per chunk (256 MiB in fp32); above it the head runs chunk by chunk


def causal_lm(model: Any) -> Any:
    """The CausalLM inside a PEFT wrapper (LoRA layers are injected in place, so its modules are live)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supported(model: Any) -> bool:
    lm = causal_lm(model)
    config = getattr(lm, "config", None)
    return (getattr(config, "model_type", None) in PLAIN_HEAD and hasattr(lm, "model") and hasattr(lm, "lm_head")
            and not getattr(config, "final_logit_softcapping", None) and not getattr(config, "logit_scale", None))


def trained_token_loss(model: Any, inputs: dict[str, torch.Tensor],
                       num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Mean next-token cross-entropy over trained tokens, divided as transformers divides it: by
    `num_items_in_batch` (the trained tokens of every micro-batch of the optimizer step) when given."""
    lm = causal_lm(model)
    inputs = dict(inputs)
    labels = inputs.pop("labels")
    hidden = lm.model(**inputs, use_cache=False).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != IGNORE
    picked = hidden[:, :-1][keep]
    wanted = targets[keep]
    total = _head_cross_entropy(lm.lm_head, picked, wanted)
    divisor = num_items_in_batch if num_items_in_batch is not None else max(int(keep.sum()), 1)
    if isinstance(divisor, torch.Tensor):
        divisor = divisor.to(total.device)
    return total / divisor


def _head_cross_entropy(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if hidden.shape[0] == 0:
        return hidden.sum() * 0.0  # keeps the graph: a batch with nothing to learn still steps
    rows = max(CHUNK_ELEMENTS // head.weight.shape[0], 1)
    if hidden.shape[0] <= rows:
        return _summed_cross_entropy(head, hidden, targets)
    # many trained tokens: logits of one chunk at a time, recomputed in the backward pass
    from torch.utils.checkpoint import checkpoint

    return sum(checkpoint(_summed_cross_entropy, head, h, t, use_reentrant=False)
               for h, t in zip(hidden.split(rows), targets.split(rows), strict=True))


def _summed_cross_entropy(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(head(hidden).float(), targets, reduction="sum")
