"""Gradient flow: the norm of the trainable parameters' gradients per block (embeddings, each decoder layer,
the final norm, the output layer) at each logging step, so a vanishing or exploding layer shows at a
glance. Read after clipping, just before the optimizer step, from the gradients the step already holds."""

from __future__ import annotations

import re
from typing import Any

LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|block)\.(\d+)\.")


def block_of(name: str) -> str:
    """The block a parameter belongs to: `layer 03`, `embed`, `lm_head`, `norm` or `other`."""
    match = LAYER.search(name)
    if match:
        return f"layer {int(match.group(1)):02d}"
    if "embed" in name or "wte" in name or "wpe" in name:
        return "embed"
    if "lm_head" in name:
        return "lm_head"
    if "norm" in name:
        return "norm"
    return "other"


def block_grad_norms(model: Any) -> dict[str, float]:
    """Each block's gradient L2 norm over its trainable parameters, in model order."""
    import torch

    squares: dict[str, Any] = {}
    for name, param in model.named_parameters():
        if param.requires_grad and param.grad is not None:
            block = block_of(name)
            value = torch.linalg.vector_norm(param.grad.detach(), dtype=torch.float32) ** 2  # no copy of the grad
            squares[block] = squares[block] + value if block in squares else value
    if not squares:
        return {}
    norms = torch.stack(list(squares.values())).sqrt().tolist()  # one device sync for all blocks
    # significant digits, not decimals: a vanishing layer's 1e-9 must not become 0
    return {block: float(f"{norm:.6g}") for block, norm in zip(squares, norms, strict=True)}
