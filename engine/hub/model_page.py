"""A hub model's page as the Model Hub tab, the API and the CLI show it: what the hub says of it (info.py)
and the memory it needs for full, LoRA and QLoRA-4 fine-tuning on this machine, with the fit planner's
fastest setting for it (sizing)."""

from __future__ import annotations

from typing import Any

from engine.env.gpus import gpu_info
from engine.hub.info import model_info
from engine.sizing.fit import estimate_for, model_shape
from engine.sizing.memory import Setting
from engine.sizing.planner import machine_budget, quick_plan

PAGE_METHODS = ("full", "lora", "qlora4")


def model_page(repo: str, source: str = "auto", endpoint: str = "", token: str = "") -> dict[str, Any]:
    page = model_info(repo, source, endpoint, token)
    if page.get("shape"):  # its config.json is cached now, so the estimate reads the real shape
        page["memory"] = {}
        for method in PAGE_METHODS:
            e = estimate_for(repo, Setting(method, "sft", 1024, 1, True))
            page["memory"][method] = {"gb": e["total_gb"], "verdict": e["verdict"], "device": e["device"],
                                      "device_kind": e["device_kind"]}
        page["plan"] = quick_plan(model_shape(repo), machine_budget(gpu_info()["gpus"]))  # Fit to this machine
    return page
