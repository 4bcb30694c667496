"""Readiness checks, each with a yes/no and the reason: what this machine can do for training."""

from __future__ import annotations

import importlib.util
from typing import Any

from engine.errors import HubUnreachable
from engine.hub.reach import ensure_reachable
from engine.models.levers import Machine
from engine.models.precision import cpu_bf16_is_faster
from engine.text.message import Text, say


def _check(name: Text, ok: bool | None, reason: Text | str) -> dict[str, Any]:
    """English text for the API and the report; the messages for the Environment tab's language."""
    return {"check": str(name), "ok": ok, "reason": str(reason), "check_text": name.to_dict(),
            "reason_text": reason.to_dict() if isinstance(reason, Text) else None}


def readiness(gpus: list[dict[str, Any]], probe_hubs: bool = True) -> list[dict[str, Any]]:
    import torch

    cuda = torch.cuda.is_available()
    out = []
    if importlib.util.find_spec("bitsandbytes") is None:
        out.append(_check(say("env.qlora"), False, say("env.qlora_missing")))
    else:
        out.append(_check(say("env.qlora"), True, say("env.qlora_gpu" if cuda else "env.qlora_cpu")))
    if cuda:
        bf16 = torch.cuda.is_bf16_supported()
        out.append(_check(say("env.bf16"), bf16, say("env.bf16_gpu" if bf16 else "env.bf16_old_gpu")))
    else:
        fast = cpu_bf16_is_faster()
        out.append(_check(say("env.bf16"), fast, say("env.bf16_cpu_fast" if fast else "env.bf16_cpu_slow")))
    sdpa = hasattr(torch.nn.functional, "scaled_dot_product_attention")
    out.append(_check(say("env.sdpa"), sdpa, say("env.sdpa_yes" if sdpa else "env.sdpa_no")))
    flash = importlib.util.find_spec("flash_attn") is not None
    out.append(_check(say("env.flash"), flash if cuda else None,
                      say("env.flash_yes" if flash else "env.flash_missing" if cuda else "env.flash_no_gpu")))
    machine = Machine.here()
    out.append(_check(say("env.liger"), machine.liger if cuda else None,
                      say("env.liger_yes" if machine.liger else "env.liger_missing" if cuda else "env.liger_no_gpu")))
    if cuda:
        out.append(_check(say("env.tf32"), machine.ampere, say("env.tf32_yes" if machine.ampere else "env.tf32_old")))
    out.append(_check(say("env.deepspeed"), machine.deepspeed,
                      say("env.deepspeed_yes" if machine.deepspeed else "env.deepspeed_missing")))
    count = len(gpus)
    out.append(_check(say("env.multi_gpu"), count > 1, say("env.gpus_many" if count > 1 else "env.gpus_one",
                                                            count=count)))
    if probe_hubs:
        for hub, label in (("hf", "env.hf_reach"), ("modelscope", "env.ms_reach")):
            try:
                ensure_reachable(hub)
                out.append(_check(say(label), True, say("env.hub_answers")))
            except HubUnreachable as exc:
                out.append(_check(say(label), False, exc.text or str(exc)))
    return out
