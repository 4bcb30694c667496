"""The GPU check: TuneDesk's own training path on an NVIDIA GPU, with and without each lever, in one
unattended command that needs no network (random-init Qwen2.5-0.5B- and 1.5B-shaped models with the
vendored Qwen3 tokenizer, synthetic rows that fill the length). For each job it prints real tokens/s,
MFU against the bf16 matmul peak measured in the same run, the peak `torch.cuda.max_memory_allocated`
against the memory estimator, and at the end greedy generation through the Compare Chat pool.

    python bench/gpu_check.py [--minutes 9] [--out DIR]      # on the GPU machine
    .venv/bin/python bench/gpu_check.py --smoke              # here: tiny shapes on the CPU, a dry run

Packages missing there (the run names them) travel as wheels; bench/README.md says how. A job whose
lever cannot run there (Liger or flash-attn not installed, bitsandbytes missing) is listed as skipped
with the reason, never faked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.config.train_config import TrainConfig  # noqa: E402
from engine.errors import TuneDeskError  # noqa: E402
from engine.sizing.catalog import CATALOG  # noqa: E402
from engine.sizing.fit import setting_for  # noqa: E402
from engine.sizing.memory import GiB, estimate  # noqa: E402
from engine.sizing.shape import ModelShape  # noqa: E402
from engine.sizing.timing import flops_per_token  # noqa: E402

TOKENIZER = ROOT / "tests" / "assets" / "qwen3-tokenizer"
CONTEXT_GB = 0.5  # the estimator's CUDA context, which max_memory_allocated does not see
SMOKE_SHAPE = ModelShape(2, 64, 128, 4, 2, 151936, tied_embeddings=True, context=4096, architecture="Qwen2ForCausalLM")


@dataclass
class Job:
    name: str
    model: str  # 0.5B | 1.5B
    overrides: dict[str, Any] = field(default_factory=dict)
    needs: str = ""  # a module the lever needs


JOBS = [
    Job("LoRA, SDPA, full logits (plain)", "1.5B", {"trained_logits_only": False}),
    Job("LoRA + trained-token logits", "1.5B"),
    Job("LoRA + Liger", "1.5B", {"use_liger_kernel": True}, needs="liger_kernel"),
    Job("LoRA + FlashAttention 2", "1.5B", {"attn_implementation": "flash_attention_2"}, needs="flash_attn"),
    Job("LoRA, checkpointing, full logits", "1.5B", {"trained_logits_only": False, "gradient_checkpointing": True}),
    Job("LoRA + Liger + trained logits + offload", "1.5B",
        {"use_liger_kernel": True, "gradient_checkpointing": True, "activation_offload": True}, needs="liger_kernel"),
    Job("LoRA + torch.compile", "1.5B", {"torch_compile": True}),
    Job("LoRA + adamw_8bit", "1.5B", {"optim": "adamw_8bit"}, needs="bitsandbytes"),
    Job("QLoRA 4-bit", "1.5B", {"finetuning_type": "qlora", "quantization_bit": 4}, needs="bitsandbytes"),
    Job("full fine-tune", "0.5B", {"finetuning_type": "full", "learning_rate": 1e-5}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on whatever device there is")
    parser.add_argument("--minutes", type=float, default=9.0, help="stop starting jobs after this long")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--out", default="", help="also write the table and the figures as JSON here")
    parser.add_argument("--jobs", default="", help="only the jobs whose names contain one of these words "
                        "(comma-separated), e.g. QLoRA,8bit for a second run that carries bitsandbytes")
    args = parser.parse_args()
    import torch

    started = time.time()
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        raise SystemExit("no CUDA device: run with --smoke for a dry run of the check on this machine")
    device = torch.cuda.get_device_name(0) if cuda else "CPU (smoke run)"
    length, batch, steps = (128, 2, 3) if args.smoke else (args.length, args.batch, args.steps)
    peak = bf16_peak(cuda)
    print(f"# GPU check: {device}; torch {torch.__version__}; bf16 matmul peak {peak / 1e12:.1f} TFLOP/s; "
          f"packed rows of {length} tokens, batch {batch}, {steps} steps per job\n", flush=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    data = write_rows(work / "rows.jsonl", length)
    models: dict[str, tuple[Path, ModelShape]] = {}
    rows, figures = [], []
    wanted = [w.strip().lower() for w in args.jobs.split(",") if w.strip()]
    for job in [j for j in JOBS if not wanted or any(w in j.name.lower() for w in wanted)]:
        if time.time() - started > args.minutes * 60:
            rows.append(f"| {job.name} | skipped: out of the {args.minutes:g} minutes |||||||")
            continue
        if job.needs and not _importable(job.needs):
            rows.append(f"| {job.name} | skipped: `{job.needs}` is not installed |||||||")
            continue
        if job.model not in models:
            models[job.model] = build_model(work / job.model, job.model, args.smoke, cuda)
        path, shape = models[job.model]
        result = train(job, path, shape, data, work / "runs", length, batch, steps, cuda)
        figures.append(result)
        if "error" in result:
            rows.append(f"| {job.name} | failed: {result['error'][:160]} |||||||")
            continue
        mfu = result["flops_per_token"] * result["tokens_per_s"] / peak
        error = result["predicted_gib"] / result["peak_gib"] - 1
        rows.append(f"| {job.name} | {job.model} | {result['tokens_per_s']:,.0f} | {100 * mfu:.1f}% | "
                    f"{result['peak_gib']:.2f} | {result['predicted_gib']:.2f} | {100 * error:+.0f}% | "
                    f"{result['first_step_s']:.1f} |")
        print(rows[-1], flush=True)
    print("\n| job | model | tokens/s | MFU | peak GiB (max_memory_allocated) | estimated GiB | error | "
          "first step s |\n|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    generation = generate(figures, cuda)
    print(f"\n{generation}\n\n{time.time() - started:.0f} s in all", flush=True)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_check.json").write_text(json.dumps({"device": device, "peak_flops": peak, "jobs": figures,
                                                         "generation": generation}, indent=1))


def bf16_peak(cuda: bool) -> float:
    """FLOP/s of a large bf16 matmul (fp32 on a CPU smoke run), the mean of ten after three warm-ups."""
    import torch

    n = 8192 if cuda else 512
    dtype = torch.bfloat16 if cuda else torch.float32
    a = torch.randn(n, n, dtype=dtype, device="cuda" if cuda else "cpu")
    b = torch.randn(n, n, dtype=dtype, device=a.device)
    for _ in range(3):
        a @ b
    if cuda:
        torch.cuda.synchronize()
    begun = time.perf_counter()
    for _ in range(10):
        a @ b
    if cuda:
        torch.cuda.synchronize()
    return 2 * n**3 * 10 / (time.perf_counter() - begun)


def write_rows(path: Path, length: int) -> Path:
    """Instruction rows of about a quarter of the length each, so packing fills every row."""
    import random

    rng = random.Random(0)
    words = ["the", "of", "model", "data", "train", "token", "answer", "question", "learn", "step", "memory"]
    with path.open("w", encoding="utf-8") as out:
        for i in range(512):
            text = " ".join(rng.choice(words) for _ in range(length // 8))
            out.write(json.dumps({"instruction": f"Question {i}: {text[:200]}", "output": text}) + "\n")
    return path


def build_model(folder: Path, size: str, smoke: bool, cuda: bool) -> tuple[Path, ModelShape]:
    """A random-init model of the catalogue's shape, saved with the vendored tokenizer."""
    import shutil

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    shape = SMOKE_SHAPE if smoke else next(m.shape for m in CATALOG if m.name == f"Qwen2.5-{size}-Instruct")
    config = Qwen2Config(vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.intermediate,
                         num_hidden_layers=shape.layers, num_attention_heads=shape.heads,
                         num_key_value_heads=shape.kv_heads, tie_word_embeddings=shape.tied_embeddings,
                         max_position_embeddings=shape.context or 32768)
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16 if cuda else torch.float32)
    model.save_pretrained(folder)
    for item in TOKENIZER.iterdir():
        if item.is_file():
            shutil.copy(item, folder / item.name)
    del model
    return folder, shape


def train(job: Job, model: Path, shape: ModelShape, data: Path, outputs: Path, length: int, batch: int, steps: int,
          cuda: bool) -> dict[str, Any]:
    """One job through TuneDesk's run manager, in this process, so the GPU's peak is this job's own."""
    import torch

    from engine.runs.queue import RunManager

    config = TrainConfig.from_dict({
        "model_name_or_path": str(model), "dataset": str(data), "output_dir": str(outputs),
        "max_seq_length": length, "per_device_train_batch_size": batch, "gradient_accumulation_steps": 1,
        "max_steps": steps, "logging_steps": 1, "save_steps": 10_000, "packing": True, "val_size": 0.0,
        "precision": "bf16" if cuda else "fp32", "report_to": "none", "compare_after_training": False,
        "learning_rate": 1e-4, **job.overrides})
    setting = replace(setting_for(config), device="gpu", precision="bf16")
    predicted = estimate(shape, setting).total_gb - CONTEXT_GB
    out = {"job": job.name, "model": job.model, "config": job.overrides, "predicted_gib": round(predicted, 2),
           "flops_per_token": flops_per_token(shape, length, setting.method, config.gradient_checkpointing, 0.5)}
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    manager = RunManager(outputs)
    try:
        run = manager.run(manager.submit(config))
    except TuneDeskError as exc:
        return {**out, "error": str(exc)}
    state = manager.wait(run.run_id, timeout=600)
    if state != "completed":
        return {**out, "error": run.status().get("error") or f"{state}: {run.log_tail(5)}"}
    metrics = [m for m in run.metrics() if m.get("type") == "train" and m.get("tokens_per_s")]
    rates = [m["tokens_per_s"] for m in metrics[2:]] or [m["tokens_per_s"] for m in metrics]
    peak = torch.cuda.max_memory_allocated() / GiB if cuda else float("nan")
    first = metrics[0]["elapsed_s"] if metrics else float("nan")
    return {**out, "run_id": run.run_id, "run_path": str(run.path), "tokens_per_s": statistics.median(rates),
            "peak_gib": round(peak, 2), "first_step_s": first, "log": run.log_tail(6)}


def generate(figures: list[dict[str, Any]], cuda: bool) -> str:
    """Greedy answers from the first finished LoRA run through the Compare Chat pool."""
    from engine.inference.decode import Sampling
    from engine.inference.generate import answer
    from engine.inference.pool import ModelPool
    from engine.inference.sides import plan_side
    from engine.runs.queue import RunManager

    done = next((f for f in figures if "run_id" in f), None)
    if done is None:
        return "generation: no run finished"
    manager = RunManager(Path(done["run_path"]).parents[1])
    pool = ModelPool()
    side = pool.sides([plan_side(f"run:{done['run_id']}", manager)])[0]
    begun = time.perf_counter()
    text = answer([side], [[{"role": "user", "content": "Say something."}]], Sampling(max_new_tokens=64))[0]
    seconds = time.perf_counter() - begun
    tokens = len(side.tokenizer(text, add_special_tokens=False)["input_ids"])
    return (f"generation through the Compare Chat pool ({done['job']}): {tokens} tokens in {seconds:.2f} s "
            f"({tokens / seconds:.1f} tokens/s, greedy, {'GPU' if cuda else 'CPU'})")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
