"""The machine: OS, CPU (model, cores, the instruction sets that decide CPU training speed), memory,
disks, Python, and torch with the CUDA/cuDNN it was built for. GPUs are in `gpus.py`."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import psutil

# instruction sets that matter for training on a CPU: bf16 is only fast with AVX-512 BF16 or AMX
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


def cpu_info() -> dict[str, Any]:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass  # not Linux: the model from platform, flags unknown
    return {"model": model, "cores_logical": os.cpu_count() or 1,
            "cores_physical": psutil.cpu_count(logical=False) or os.cpu_count() or 1,
            "flags": {f: f in flags for f in CPU_FLAGS} if flags else {},
            "load_percent": psutil.cpu_percent(interval=0.2)}


def memory_info() -> dict[str, Any]:
    mem = psutil.virtual_memory()
    return {"total_gb": round(mem.total / 2**30, 2), "available_gb": round(mem.available / 2**30, 2),
            "used_percent": mem.percent}


def disk_info(folders: dict[str, Path]) -> list[dict[str, Any]]:
    """Free space where runs and models go; a folder that does not exist yet is measured at its parent."""
    out = []
    for label, folder in folders.items():
        probe = Path(folder).expanduser()
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        out.append({"what": label, "folder": str(folder), "total_gb": round(usage.total / 2**30, 1),
                    "free_gb": round(usage.free / 2**30, 1)})
    return out


def software_info() -> dict[str, Any]:
    info: dict[str, Any] = {"os": f"{platform.system()} {platform.release()}", "platform": platform.platform(),
                            "python": sys.version.split()[0]}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda_build"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        info["cuda_available"] = torch.cuda.is_available()
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info
