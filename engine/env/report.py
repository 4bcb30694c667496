"""The environment report: one dict for the UI and the API, and the same as Markdown for bug reports
(`python -m engine env`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.env.deps import dependency_matrix
from engine.env.gpus import gpu_info
from engine.env.machine import cpu_info, disk_info, memory_info, software_info
from engine.env.readiness import readiness
from engine.locations import cache_root
from engine.sizing.catalog import find
from engine.sizing.fit import device_memory, machine_table
from engine.sizing.planner import machine_budget, quick_plan


def env_report(outputs: str | Path = "outputs", probe_hubs: bool = True) -> dict[str, Any]:
    hf_home = Path.home() / ".cache" / "huggingface"
    gpus = gpu_info()
    return {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "software": software_info(),
        "cpu": cpu_info(),
        "memory": memory_info(),
        "disks": disk_info({"outputs (runs)": Path(outputs).resolve(), "TuneDesk cache": cache_root(),
                            "Hugging Face cache": hf_home, "ModelScope cache": Path.home() / ".cache" / "modelscope"}),
        "gpu": gpus,
        "dependencies": dependency_matrix(),
        "readiness": readiness(gpus["gpus"], probe_hubs),
        "can_train": planned_table(gpus["gpus"]),
    }


def _yes(ok: bool | None) -> str:
    return {True: "yes", False: "no", None: "n/a"}[ok]


def to_markdown(report: dict[str, Any]) -> str:
    sw, cpu, mem, gpu = report["software"], report["cpu"], report["memory"], report["gpu"]
    flags = ", ".join(f for f, on in cpu["flags"].items() if on) or "none of " + ", ".join(cpu["flags"]) \
        if cpu["flags"] else "unknown"
    lines = [f"## TuneDesk environment ({report['created']})", "",
             f"- OS: {sw['os']} · Python {sw['python']} · torch {sw.get('torch')} "
             f"(CUDA build {sw.get('torch_cuda_build') or 'none'}, cuDNN {sw.get('cudnn') or 'none'})",
             f"- CPU: {cpu['model']} · {cpu['cores_physical']} cores / {cpu['cores_logical']} threads · "
             f"instruction sets: {flags}",
             f"- RAM: {mem['total_gb']} GiB ({mem['available_gb']} GiB free)"]
    if gpu["gpus"]:
        lines.append(f"- NVIDIA driver {gpu.get('driver')} (CUDA {gpu.get('cuda_driver')})")
        for g in gpu["gpus"]:
            lines.append(f"- GPU {g['index']}: {g['name']} · {g.get('mem_total_gb', '?')} GiB · compute "
                         f"{g.get('compute_capability', '?')} · bf16 {_yes(g.get('bf16'))}")
    else:
        lines.append(f"- GPU: none ({gpu['note']})")
    lines += [f"- Disk: {d['what']} {d['free_gb']} GiB free of {d['total_gb']} ({d['folder']})"
              for d in report["disks"]]
    lines += ["", "| check | ok | why |", "|---|---|---|"]
    lines += [f"| {c['check']} | {_yes(c['ok'])} | {c['reason']} |" for c in report["readiness"]]
    _, gb, name = device_memory(gpu["gpus"])
    lines += ["", f"What this machine can train ({name}, {gb} GiB; length 1024, batch 1, gradient checkpointing):",
              "", "| model | params (B) | full | LoRA | QLoRA-4 |", "|---|---|---|---|---|"]
    for r in report["can_train"]:
        cells = " | ".join(f"{r[m]['verdict']} ({r[m]['gb']} GiB)" for m in ("full", "lora", "qlora4"))
        lines.append(f"| {r['model']} | {r['params_b']} | {cells} |")
    bad = [d for d in report["dependencies"] if d["status"] != "ok"]
    lines += ["", f"Dependencies: {len(report['dependencies']) - len(bad)} of {len(report['dependencies'])} as "
              "required" + ("." if not bad else ":")]
    lines += [f"- {d['package']} {d['required']}: {d['installed'] or 'missing'} → `{d['fix']}`" for d in bad]
    return "\n".join(lines) + "\n"


def planned_table(gpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The catalogue's memory per method on this machine, and the fit planner's fastest setting for each."""
    budget = machine_budget(gpus)
    rows = machine_table(gpus)
    for row in rows:
        row["plan"] = quick_plan(find(row["model"]).shape, budget)
    return rows


class Environment:
    """The last report, kept for every page: computing one takes seconds (torch import, a bf16
    measurement, hub probes), so pages show the kept one and refresh on request."""

    def __init__(self, outputs: str | Path):
        self.outputs = outputs
        self.last: dict[str, Any] | None = None

    def refresh(self, probe_hubs: bool = True) -> dict[str, Any]:
        report = env_report(self.outputs, probe_hubs)
        report["markdown"] = to_markdown(report)
        self.last = report
        return report

    def current(self) -> dict[str, Any]:
        return self.last or self.refresh()
