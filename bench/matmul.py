"""fp32 vs bf16 matmul speed on this CPU: why `precision: auto` measures before choosing bf16, and whether
its probe (`engine.models.precision.PROBE_SHAPE`, warm, best of three) picks what the model's own matmuls
would. The first row is the probe it replaced: 256², timed cold, which on AVX-512 BF16 CPUs said bf16 was
30× slower while every training-sized matmul ran it 2-3× faster.

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
    from engine.models.precision import PROBE_SHAPE, cpu_bf16_is_faster, matmul_rate

    print(f"# {cpu_line()}, {torch.get_num_threads()} torch threads\n")
    print("| matmul | fp32 GFLOP/s | bf16 GFLOP/s | bf16 faster? |\n|---|---|---|---|")
    cold = shaped_gflops(torch.float32, (256, 256, 256)), shaped_gflops(torch.bfloat16, (256, 256, 256), 1, False)
    print(f"| old probe 256², bf16 cold | {cold[0]:.1f} | {cold[1]:.1f} | {'yes' if cold[1] > cold[0] else 'no'} |")
    verdicts = []
    for name, shape in {f"probe {'×'.join(map(str, PROBE_SHAPE))} (what precision: auto times)": PROBE_SHAPE,
                        **MODEL_SHAPES}.items():
        fp32, bf16 = (matmul_rate(p, shape) * 2 * shape[0] * shape[1] * shape[2] / 1e9 for p in ("fp32", "bf16"))
        verdicts.append(bf16 > fp32)
        print(f"| {name} | {fp32:.1f} | {bf16:.1f} | {'yes' if bf16 > fp32 else 'no'} |")
    agree = all(v == verdicts[0] for v in verdicts)
    print(f"\nthe probe {'agrees' if agree else 'DISAGREES'} with the model's own matmuls; "
          f"precision: auto picks {'bf16' if cpu_bf16_is_faster() else 'fp32'} on this CPU")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
