"""fp32 vs bf16 matmul speed on this CPU: why `precision: auto` measures before choosing bf16.

    .venv/bin/python bench/matmul.py
"""

from __future__ import annotations

import time

import torch


def gflops(dtype: torch.dtype, n: int = 1024, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - started) / 1e9


if __name__ == "__main__":
    print(f"| dtype | GFLOP/s (1024² matmul, {torch.get_num_threads()} threads) |\n|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        print(f"| {str(dtype).removeprefix('torch.')} | {gflops(dtype):.1f} |")
