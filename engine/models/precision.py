"""The precision a run computes in: what the user chose, or for `auto` the fastest this machine has."""

from __future__ import annotations

import functools
import time
from typing import Any

from engine.config.train_config import TrainConfig
from engine.errors import ModelError

# A training-sized matmul (a batch of 1,024 tokens through a 1,024-wide layer): small probes mislead, because
# bf16's first calls and small shapes pay a fixed cost (packing the operands) that training never sees.
PROBE_SHAPE = (1024, 1024, 1024)


@functools.lru_cache(maxsize=1)
def cpu_bf16_is_faster() -> bool:
    """Some CPUs (AVX-512 BF16, AMX) run bf16 matmul several times faster than fp32; many run it far slower.
    Measured once per process, at a training-sized shape, after warm-up calls, best of three."""
    return matmul_rate("bf16") > 1.2 * matmul_rate("fp32")


def matmul_rate(precision: str, shape: tuple[int, int, int] = PROBE_SHAPE, repeats: int = 3) -> float:
    """Matmuls per second at `shape` (rows, inner, cols): the best of `repeats` after two warm-up calls."""
    import torch

    rows, inner, cols = shape
    dtype = torch_dtype(precision)
    a, b = torch.randn(rows, inner, dtype=dtype), torch.randn(inner, cols, dtype=dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 1 / max(best, 1e-9)


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
