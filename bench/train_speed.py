"""Training speed on this machine: real tokens/s, MFU against the matmul peak measured in the same run,
peak memory, time to the first step, wall time and final loss, for named jobs through the real CLI.

    .venv/bin/python bench/train_speed.py [--steps 8] [--jobs lora lora_packed]

Jobs (SmolLM2-135M-Instruct, the bundled model; the first 160 rows of ../shared/data's alpaca set,
or TuneDesk's identity sample where ../shared is absent):
  lora         LoRA r=8 on all linear layers, max length 512, batch 4, fp32
  lora_packed  the same with packing (samples kept apart, no cross-sample attention)

Each job is a fresh `python -m engine train` process. Tokens/s counts real (non-padding) tokens and
leaves out the first two steps (warm-up). MFU = training FLOPs per token × real tokens/s ÷ peak, with
FLOPs per token = 2 × forward for LoRA (forward, and the backward pass through activations; the frozen
weights get no gradient), 3 × forward for full fine-tuning, and forward = 2 × matmul parameters (linear
layers and the output projection) + 2 × layers × hidden × context (attention; a causal token's mean
context is half the sample length).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset_stats import cpu_line  # noqa: E402

ALPACA = ROOT.parent / "shared" / "data" / "alpaca_en_demo.json"
BASE = {"model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "method": "sft", "finetuning_type": "lora",
        "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "lora_target": "all-linear", "max_samples": 160,
        "max_seq_length": 512, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
        "learning_rate": 2e-4, "lr_scheduler_type": "constant", "warmup_ratio": 0.0, "logging_steps": 1,
        "save_steps": 100_000, "precision": "fp32", "seed": 42, "replay_ratio": 0.0}
JOBS = {"lora": {}, "lora_packed": {"packing": True}}


def model_shape(folder: str | Path | None = None) -> dict[str, int]:
    """Parameters, layers and hidden size of a model folder (default: the bundled model, converted)."""
    from engine.config.train_config import TrainConfig
    from engine.models.resolve import resolve_model
    from engine.sizing.shape import shape_from_folder

    if folder is None:
        folder = resolve_model(TrainConfig.from_dict(BASE), log=lambda *_: None).path
    shape = shape_from_folder(folder)
    # every token passes through each linear layer and the output projection (embedding lookups are free)
    return {"params": shape.params, "matmul_params": shape.linear_params + shape.vocab * shape.hidden,
            "layers": shape.layers, "hidden": shape.hidden}


def flops_per_token(shape: dict[str, int], context: float, full: bool = False) -> float:
    forward = 2 * shape["matmul_params"] + 2 * shape["layers"] * shape["hidden"] * context
    # LoRA: forward + backward through activations; full fine-tuning adds the weight gradients
    return (3 if full else 2) * forward


def watch(command: list[str], cwd: Path, env: dict[str, str] | None = None, output: Path | None = None,
          usage: dict | None = None, limit_s: float | None = None) -> int:
    """Run a command to its end (or stop it with its children after limit_s); the peak resident memory of it
    and its children together, in bytes. `usage`, when given, receives the command's CPU seconds (user,
    system) and page faults."""
    env = env if env is not None else {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(output or os.devnull, "w") as sink:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        watched, peak = psutil.Process(proc.pid), 0
        deadline = time.time() + limit_s if limit_s else float("inf")
        while proc.poll() is None:
            if time.time() > deadline:
                for child in [*watched.children(recursive=True), watched]:
                    child.kill()
                proc.wait()
                break
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.2)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if usage is not None:
        usage.update(user_s=after.ru_utime - before.ru_utime, system_s=after.ru_stime - before.ru_stime,
                     minor_faults=after.ru_minflt - before.ru_minflt)
    return peak


def run_job(name: str, steps: int, dataset: Path, folder: Path) -> dict:
    config = {**BASE, **JOBS[name], "dataset": str(dataset), "max_steps": steps}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    outputs = folder / name
    started = time.time()
    peak = watch([sys.executable, "-m", "engine", "train", str(path), "--outputs", str(outputs)], ROOT)
    wall = time.time() - started
    run_dir = next((outputs / "runs").iterdir())
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train = [e for e in events if e.get("type") == "train" and "loss" in e]
    timed = [e for e in train if e["step"] > 2]
    span = timed[-1]["time"] - timed[0]["time"] if len(timed) > 1 else float("nan")
    status = json.loads((run_dir / "status.json").read_text())
    report = json.loads((run_dir / "data_report.json").read_text())
    per_step_tokens = [e.get("tokens_per_s") or 0 for e in timed[1:]]
    seconds = [b["time"] - a["time"] for a, b in zip(timed, timed[1:], strict=False)]
    tokens = sum(t * s for t, s in zip(per_step_tokens, seconds, strict=True))
    return {"job": name, "state": status.get("state"), "steps": len(train), "wall_s": wall,
            "first_step_s": train[0]["time"] - started if train else float("nan"),
            "s_per_step": span / max(len(timed) - 1, 1), "real_tokens_per_s": tokens / span if span else 0.0,
            "peak_rss_gib": peak / 2**30, "final_loss": train[-1]["loss"] if train else None,
            "mean_len": report["tokens"] / max(report["examples"], 1)}


def main() -> None:
    import torch

    from bench.matmul import gflops

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--jobs", nargs="*", default=list(JOBS))
    args = parser.parse_args()
    dataset = ALPACA if ALPACA.exists() else ROOT / "samples" / "identity.json"
    shape = model_shape()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        peaks = [gflops(torch.float32)]
        for name in args.jobs:
            rows.append(run_job(name, args.steps, dataset, Path(tmp)))
            peaks.append(gflops(torch.float32))  # between jobs: drift shows up as a spread
    peak = max(peaks)
    print(f"# training speed: SmolLM2-135M-Instruct ({shape['params'] / 1e6:.0f}M), {dataset.name}, "
          f"{args.steps} steps\n# {cpu_line()}\n# fp32 matmul peak (1024², measured around the jobs): "
          f"{min(peaks):.1f}–{peak:.1f} GFLOP/s\n")
    print("| job | state | s/step | real tokens/s | MFU | peak RSS | first step | wall | final loss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        mfu = row["real_tokens_per_s"] * flops_per_token(shape, row["mean_len"] / 2) / (peak * 1e9)
        print(f"| {row['job']} | {row['state']} | {row['s_per_step']:.2f} | {row['real_tokens_per_s']:.0f} | "
              f"{mfu:.1%} | {row['peak_rss_gib']:.2f} GiB | {row['first_step_s']:.0f} s | {row['wall_s']:.0f} s | "
              f"{row['final_loss']:.3f} |")


if __name__ == "__main__":
    main()
