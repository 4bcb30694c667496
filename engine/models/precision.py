"""The precision a run computes in: what the user chose, or for `auto` the fastest this machine has."""

from __future__ import annotations

import functools
import time
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ModelError


@functools.lru_cache(maxsize=1)
def cpu_bf16_is_faster() -> bool:
    """Some CPUs (AVX-512 BF16, AMX) run bf16 matmul several times faster than fp32; many run it far slower."""
    import torch

    def rate(dtype: Any) -> float:
        a = torch.randn(256, 256, dtype=dtype)
        a @ a
        started = time.perf_counter()
        for _ in range(3):
            a @ a
        return 3 / max(time.perf_counter() - started, 1e-9)

    return rate(torch.bfloat16) > 1.2 * rate(torch.float32)


def pick_precision(config: TrainConfig) -> str:
    import torch

    cuda = torch.cuda.is_available()
    if config.precision == "fp16" and not cuda:
        raise ModelError("precision fp16 on a CPU runs hundreds of times slower than fp32: choose auto, fp32 or bf16")
    if config.precision != "auto":
        return config.precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_bf16_is_faster() else "fp32"


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
