"""fp32 vs bf16 matmul speed on this CPU: why `precision: auto` measures before choosing bf16, and whether
its small probe (256², the one `engine.models.precision.cpu_bf16_is_faster` times) picks what the model's own
matmuls would.

    .venv/bin/python bench/matmul.py
"""

from __future__ import annotations

import time

import torch

# (rows, inner, cols) of SmolLM2-135M's training matmuls at batch 4 × 512 tokens: q/o, MLP up, MLP down,
# and the output projection over its 49,152-token vocabulary (fewer rows: bf16 is slow on some CPUs)
MODEL_SHAPES = {"attention q/o (576×576)": (2048, 576, 576), "MLP up (576×1536)": (2048, 576, 1536),
                "MLP down (1536×576)": (2048, 1536, 576), "output layer (576×49152)": (128, 576, 49152)}


def gflops(dtype: torch.dtype, n: int = 1024, repeats: int = 5) -> float:
    return shaped_gflops(dtype, (n, n, n), repeats)


def shaped_gflops(dtype: torch.dtype, shape: tuple[int, int, int], repeats: int = 5, warm_up: bool = True) -> float:
    rows, inner, cols = shape
    a, b = torch.randn(rows, inner, dtype=dtype), torch.randn(inner, cols, dtype=dtype)
    if warm_up:
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * rows * inner * cols * repeats / (time.perf_counter() - started) / 1e9


def main() -> None:
    from bench.dataset_stats import cpu_line

    print(f"# {cpu_line()}, {torch.get_num_threads()} torch threads\n")
    print("| matmul | fp32 GFLOP/s | bf16 GFLOP/s | bf16 faster? |\n|---|---|---|---|")
    shapes = {"probe 256² (what precision: auto times)": (256, 256, 256), "1024²": (1024, 1024, 1024),
              **MODEL_SHAPES}
    verdicts = []
    for name, shape in shapes.items():
        fp32, bf16 = shaped_gflops(torch.float32, shape), shaped_gflops(torch.bfloat16, shape, repeats=1, warm_up=False)
        verdicts.append(bf16 > fp32)
        print(f"| {name} | {fp32:.1f} | {bf16:.1f} | {'yes' if bf16 > fp32 else 'no'} |")
    agree = all(v == verdicts[0] for v in verdicts)
    print(f"\nthe probe {'agrees' if agree else 'DISAGREES'} with the model's own matmuls")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
