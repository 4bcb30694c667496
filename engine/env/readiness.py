"""Readiness checks, each with a yes/no and the reason: what this machine can do for training."""

from __future__ import annotations

import importlib.util
from typing import Any

from engine.errors import HubUnreachable
from engine.hub.reach import ensure_reachable
from engine.models.precision import cpu_bf16_is_faster


def _check(name: str, ok: bool | None, reason: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "reason": reason}


def readiness(gpus: list[dict[str, Any]], probe_hubs: bool = True) -> list[dict[str, Any]]:
    import torch


    cuda = torch.cuda.is_available()
    out = []
    if importlib.util.find_spec("bitsandbytes") is None:
        out.append(_check("QLoRA (bitsandbytes)", False, "bitsandbytes is not installed: pip install bitsandbytes"))
    else:
        where = "on the GPU" if cuda else "on this CPU (bitsandbytes 0.50 runs 4- and 8-bit layers on CPUs, slowly)"
        out.append(_check("QLoRA (bitsandbytes)", True, f"4-bit NF4 and 8-bit bases load {where}"))
    if cuda:
        bf16 = torch.cuda.is_bf16_supported()
        out.append(_check("bf16 is fast here", bf16, "the GPU supports bf16" if bf16 else
                          "this GPU predates bf16 (compute capability < 8.0): fp16 with loss scaling is used"))
    else:
        fast = cpu_bf16_is_faster()
        out.append(_check("bf16 is fast here", fast, "measured: a bf16 matmul beats fp32 on this CPU" if fast else
                          "measured: bf16 matmul is slower than fp32 on this CPU (no AVX-512 BF16 / AMX): "
                          "precision auto trains in fp32"))
    sdpa = hasattr(torch.nn.functional, "scaled_dot_product_attention")
    out.append(_check("SDPA attention", sdpa, "torch's fused scaled-dot-product attention is available" if sdpa
                      else "torch is too old for SDPA: upgrade torch"))
    flash = importlib.util.find_spec("flash_attn") is not None
    out.append(_check("flash-attention", flash if cuda else None,
                      "flash_attn is installed" if flash else
                      ("not installed (optional; SDPA is used)" if cuda else "needs an NVIDIA GPU; SDPA is used")))
    count = len(gpus)
    out.append(_check("multi-GPU", count > 1, f"{count} GPU(s) visible" + (
        ": one process trains on one device today; torchrun/accelerate scale-out is planned" if count > 1 else "")))
    if probe_hubs:
        for hub, label in (("hf", "Hugging Face reachable"), ("modelscope", "ModelScope reachable")):
            try:
                ensure_reachable(hub)
                out.append(_check(label, True, "the hub answers"))
            except HubUnreachable as exc:
                out.append(_check(label, False, str(exc)))
    return out
