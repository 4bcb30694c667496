"""TuneDesk against LLaMA-Factory on the same jobs, on this machine, in one invocation.

    .venv/bin/python bench/peer.py --lf-python /path/to/llamafactory-venv/bin/python [--rounds 2]

LLaMA-Factory runs from its own virtual environment (`python -m venv lf && lf/bin/pip install
llamafactory`), through `run_exp` with a callback that only records time, loss and tokens
(bench/peer_lf.py). The two tools run alternately (A B, then B A in the next round) so drift of the
machine falls on both. Every job: SmolLM2-135M-Instruct (TuneDesk's bundled model, converted once), the
first 160 rows of ../shared/data's alpaca_en_demo, max length 512, batch 4, LoRA r=8 alpha=16 on all
linear layers, learning rate 2e-4 constant, seed 42.

  identical  same settings on both sides: fp32, no packing, no gradient checkpointing, 10 steps.
             TuneDesk's output-layer saving is off too, so this measures what each engine adds.
  best       each tool at its best for this CPU, one epoch, then the loss on 64 held-out rows
             (alpaca rows 160–223) of both adapters through one evaluator:
             TuneDesk packing + output layer only at trained tokens; LLaMA-Factory neat_packing
             (packing without cross-sample attention), gradient checkpointing off, fp32.
  qwen2_100m a ~100M-parameter random-init Qwen2-architecture model (hidden 512, 8 layers, tied
             embeddings) with the real Qwen3 tokenizer (../shared/models): three quarters of its matmul
             weights are the 151k-token output layer. Full fine-tuning, each tool at its best (as in
             `best`), 10 steps; LLaMA-Factory renders with its qwen3_nothink template.
  default    as a new user starts: TuneDesk's defaults (precision auto), and LLaMA-Factory's example
             LoRA YAML settings (bf16: true, gradient checkpointing on, 16 preprocessing and 4 loader
             workers), 3 steps. LLaMA-Factory's slowness here is explained in bench/README.md.

Real tokens/s counts non-padding tokens (each trainer's own `num_input_tokens_seen`), leaving out the
first step. MFU uses the standard model FLOPs (bench/train_speed.py) against the fp32 matmul peak
measured in this run, so work TuneDesk skips is not counted as work done.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset_stats import cpu_line  # noqa: E402
from bench.train_speed import ALPACA, BASE, flops_per_token, model_shape, watch  # noqa: E402

HELD_OUT = range(160, 224)
TARGETS = {"identical": 1.0, "best": 2.0, "qwen2_100m": 2.0}
QWEN3_TOKENIZER = ROOT.parent / "shared" / "models" / "qwen3-tokenizer"
LF_TEMPLATES = {"smollm2": "smollm2", "qwen2_100m": "qwen3_nothink"}


@dataclass
class Job:
    tunedesk: dict
    lf: dict
    steps: int | None  # None: one epoch
    held_out: bool = False
    model: str = "smollm2"  # or "qwen2_100m", built by random_qwen2
    limit_s: float | None = None  # a run still going after this is stopped, and its table row says so


JOBS = {
    "identical": Job({"trained_logits_only": False}, {}, 10),
    "best": Job({"packing": True, "trained_logits_only": True}, {"neat_packing": True}, None, held_out=True),
    "qwen2_100m": Job({"packing": True, "trained_logits_only": True, "finetuning_type": "full",
                        "learning_rate": 1e-4}, {"neat_packing": True, "finetuning_type": "full",
                                                  "learning_rate": 1e-4}, 10, model="qwen2_100m"),
    "default": Job({"precision": "auto"}, {"bf16": True, "use_cpu": True, "disable_gradient_checkpointing": False,
                                           "preprocessing_num_workers": 16, "dataloader_num_workers": 4}, 3,
                   limit_s=900),
}


def random_qwen2(folder: Path) -> Path:
    """A random-init ~100M Qwen2 with the Qwen3 tokenizer, saved once as a model folder both tools load."""
    if (folder / "config.json").exists():
        return folder
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(QWEN3_TOKENIZER)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                         num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def lf_config(model_path: str, job: Job, output_dir: Path) -> dict:
    config = {
        "model_name_or_path": model_path, "stage": "sft", "do_train": True, "finetuning_type": "lora",
        "lora_rank": BASE["lora_r"], "lora_alpha": BASE["lora_alpha"], "lora_dropout": 0.0, "lora_target": "all",
        "dataset": "alpaca_en_demo", "dataset_dir": str(ALPACA.parent), "template": LF_TEMPLATES[job.model],
        "cutoff_len": BASE["max_seq_length"], "max_samples": BASE["max_samples"], "overwrite_cache": True,
        "output_dir": str(output_dir), "overwrite_output_dir": True, "logging_steps": 1, "save_steps": 100_000,
        "per_device_train_batch_size": BASE["per_device_train_batch_size"], "gradient_accumulation_steps": 1,
        "learning_rate": BASE["learning_rate"], "lr_scheduler_type": "constant", "warmup_ratio": 0.0,
        "seed": BASE["seed"], "report_to": "none", "disable_gradient_checkpointing": True,
        "include_num_input_tokens_seen": "non_padding", "dataloader_num_workers": 0, "plot_loss": False,
        **({"max_steps": job.steps} if job.steps else {"num_train_epochs": 1.0}),
    }
    return {**config, **job.lf}


def tunedesk_config(job: Job, model_path: str) -> dict:
    steps = {"max_steps": job.steps} if job.steps else {"max_steps": -1, "num_train_epochs": 1.0}
    model = {} if job.model == "smollm2" else {"model_name_or_path": model_path}
    return {**BASE, "dataset": str(ALPACA), **model, **steps, **job.tunedesk}


def run_tunedesk(job: Job, folder: Path, model_path: str) -> dict:
    path = folder / "tunedesk.yaml"
    path.write_text(yaml.safe_dump(tunedesk_config(job, model_path)))
    outputs = folder / "tunedesk"
    started = time.time()
    usage: dict = {}
    peak = watch([sys.executable, "-m", "engine", "train", str(path), "--outputs", str(outputs)], ROOT, usage=usage)
    wall = time.time() - started
    run_dir = next((outputs / "runs").iterdir())
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    train = [e for e in events if e.get("type") == "train" and "loss" in e]
    # TuneDesk logs tokens/s per logged step; cumulative real tokens follow from it
    steps, total = [], 0.0
    for before, after in zip([None, *train], train, strict=False):
        if before is not None:
            total += (after.get("tokens_per_s") or 0) * (after["time"] - before["time"])
        steps.append({"step": after["step"], "time": after["time"], "loss": after["loss"], "tokens": total,
                      "padding": after.get("padding_share")})
    state = json.loads((run_dir / "status.json").read_text()).get("state")
    return {**summarise(steps, started, wall, peak), **usage, "state": state, "adapter": run_dir / "final"}


def run_lf(job: Job, folder: Path, lf_python: str, model_path: str) -> dict:
    path, log = folder / "lf.yaml", folder / "lf_steps.jsonl"
    output_dir = folder / "lf"
    path.write_text(yaml.safe_dump(lf_config(model_path, job, output_dir)))
    started = time.time()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    usage: dict = {}
    peak = watch([lf_python, str(ROOT / "bench" / "peer_lf.py"), str(path), str(log)], folder, env=env,
                 output=folder / "lf.log", usage=usage, limit_s=job.limit_s)
    wall = time.time() - started
    steps = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    stopped = job.limit_s and wall >= job.limit_s
    saved = any((output_dir / name).exists() for name in ("adapter_model.safetensors", "model.safetensors"))
    state = ("completed" if saved
             else f"stopped after {job.limit_s:.0f} s" if stopped else "failed (see lf.log)")
    return {**summarise(steps, started, wall, peak), **usage, "state": state, "adapter": output_dir}


def summarise(steps: list[dict], started: float, wall: float, peak: int) -> dict:
    timed = steps[1:]  # the first step carries one-time work (allocation, kernel selection)
    span = timed[-1]["time"] - steps[0]["time"] if timed else float("nan")
    tokens = timed[-1]["tokens"] - steps[0]["tokens"] if timed else 0
    padding = [s["padding"] for s in steps if s.get("padding") is not None]
    return {"steps": len(steps), "s_per_step": span / len(timed) if timed else float("nan"),
            "real_tokens_per_s": tokens / span if timed and span else 0.0, "wall_s": wall,
            "first_step_s": steps[0]["time"] - started if steps else float("nan"), "peak_rss_gib": peak / 2**30,
            "final_loss": steps[-1]["loss"] if steps else float("nan"),
            "padding": statistics.mean(padding) if padding else None}


def heldout_loss(model_path: str, adapter: Path, folder: Path) -> float:
    """Mean loss per answer token on the held-out rows, each rendered by the model's own chat template."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.config.train_config import TrainConfig
    from engine.data.collate import PaddedCollator
    from engine.data.prepare import encode_samples, read_samples
    from engine.training.trained_logits import trained_token_loss

    rows = json.loads(ALPACA.read_text(encoding="utf-8"))
    path = folder / "held_out.json"
    path.write_text(json.dumps([rows[i] for i in HELD_OUT if i < len(rows)]))
    config = TrainConfig.from_dict({"dataset": str(path), "max_seq_length": BASE["max_seq_length"]})
    tok = AutoTokenizer.from_pretrained(model_path)
    normalized, report = read_samples(config)
    examples, _ = encode_samples(tok, normalized, report, config)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter)).eval()
    collate = PaddedCollator(tok.pad_token_id if tok.pad_token_id is not None else 0)
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), 8):
            batch = collate(examples[start:start + 8])
            total += trained_token_loss(model, batch, num_items_in_batch=1).item()  # the summed loss
            count += int((batch["labels"][:, 1:] != -100).sum())
    return total / count


def lf_versions(lf_python: str) -> str:
    code = ("import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('llamafactory', 'torch', 'transformers', 'peft')))")
    return subprocess.run([lf_python, "-c", code], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    import importlib.metadata as meta

    import torch

    from bench.matmul import gflops
    from engine.config.train_config import TrainConfig
    from engine.models.resolve import resolve_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--lf-python", required=True, help="python of a virtual environment with llamafactory")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--jobs", nargs="*", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--keep", type=Path, help="keep the runs in this folder")
    args = parser.parse_args()
    if not ALPACA.exists():
        sys.exit(f"{ALPACA} is missing: this comparison needs ../shared/data")
    models = {"smollm2": str(resolve_model(TrainConfig.from_dict(BASE), log=lambda *_: None).path)}
    if "qwen2_100m" in args.jobs:
        if not QWEN3_TOKENIZER.exists():
            sys.exit(f"{QWEN3_TOKENIZER} is missing: the qwen2_100m job needs ../shared/models")
        models["qwen2_100m"] = str(random_qwen2(Path(tempfile.gettempdir()) / "tunedesk-bench-qwen2-100m"))
    shapes = {name: model_shape(path) for name, path in models.items()}
    rows: list[dict] = []
    peaks = [gflops(torch.float32)]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for round_no in range(args.rounds):
            for name in args.jobs:
                job = JOBS[name]
                order = ("TuneDesk", "LLaMA-Factory") if round_no % 2 == 0 else ("LLaMA-Factory", "TuneDesk")
                for tool in order:
                    folder = base / f"r{round_no}-{name}-{tool}"
                    folder.mkdir(parents=True, exist_ok=True)
                    print(f"… round {round_no + 1}, {name}, {tool}", file=sys.stderr, flush=True)
                    model_path = models[job.model]
                    row = (run_tunedesk(job, folder, model_path) if tool == "TuneDesk"
                           else run_lf(job, folder, args.lf_python, model_path))
                    if job.held_out and row["state"] == "completed":
                        row["held_out"] = heldout_loss(model_path, row["adapter"], folder)
                    rows.append({"job": name, "tool": tool, "round": round_no + 1, **row})
                    peaks.append(gflops(torch.float32))
    lengths = {name: mean_length(path) for name, path in models.items()}
    print_tables(rows, shapes, lengths, peaks, args, lf_versions(args.lf_python), meta.version("torch"))


def print_tables(rows: list[dict], shapes: dict, lengths: dict, peaks: list[float], args: argparse.Namespace,
                 lf: str, torch_version: str) -> None:
    peak = max(peaks)
    print(f"# TuneDesk vs LLaMA-Factory: alpaca 160 rows, max length 512, batch 4 (jobs: bench/peer.py); "
          f"{args.rounds} round(s), alternating\n# {cpu_line()}\n# fp32 matmul peak (1024², around every job): "
          f"{min(peaks):.1f}–{peak:.1f} GFLOP/s\n# TuneDesk: torch {torch_version}; LLaMA-Factory venv: {lf}\n")
    print("| job | tool | round | state | steps | s/step | real tokens/s | padding | MFU | peak RSS | first step "
          "| wall | CPU user / system | page faults | last train loss | held-out loss |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        job = JOBS[r["job"]]
        full = job.tunedesk.get("finetuning_type") == "full"
        mfu = (r["real_tokens_per_s"] * flops_per_token(shapes[job.model], lengths[job.model] / 2, full)
               / (peak * 1e9))
        padding = f"{r['padding']:.0%}" if r.get("padding") is not None else "–"
        held = f"{r['held_out']:.4f}" if "held_out" in r else "–"
        print(f"| {r['job']} | {r['tool']} | {r['round']} | {r['state']} | {r['steps']} | {r['s_per_step']:.2f} | "
              f"{r['real_tokens_per_s']:.1f} | {padding} | {mfu:.1%} | {r['peak_rss_gib']:.2f} GiB | "
              f"{r['first_step_s']:.0f} s | {r['wall_s']:.0f} s | {r['user_s']:.0f} / {r['system_s']:.0f} s | "
              f"{r['minor_faults'] / 1e6:.1f} M | {r['final_loss']:.4f} | {held} |")
    print("\n| job | TuneDesk ÷ LLaMA-Factory, real tokens/s (median of rounds) | target | met | held-out loss "
          "TuneDesk / LLaMA-Factory |\n|---|---|---|---|---|")
    for name in dict.fromkeys(r["job"] for r in rows):
        ratios = []
        for round_no in sorted({r["round"] for r in rows}):
            pair = {r["tool"]: r for r in rows if r["job"] == name and r["round"] == round_no}
            if len(pair) == 2 and pair["LLaMA-Factory"]["real_tokens_per_s"] > 0:
                ratios.append(pair["TuneDesk"]["real_tokens_per_s"] / pair["LLaMA-Factory"]["real_tokens_per_s"])
        ratio = statistics.median(ratios) if ratios else float("nan")
        target = TARGETS.get(name)
        held = {t: statistics.mean([r["held_out"] for r in rows if r["job"] == name and r["tool"] == t
                                    and "held_out" in r] or [float("nan")]) for t in ("TuneDesk", "LLaMA-Factory")}
        loss_ok = held["TuneDesk"] <= held["LLaMA-Factory"] * 1.01 if name == "best" else True
        met = "–" if target is None else "yes" if ratio >= target and loss_ok else "no"
        held_text = (f"{held['TuneDesk']:.4f} / {held['LLaMA-Factory']:.4f}" if name == "best" else "–")
        print(f"| {name} | {ratio:.2f}× ({', '.join(f'{x:.2f}' for x in ratios)}) | "
              f"{f'≥ {target:.1f}×' if target else '–'} | {met} | {held_text} |")
    print(f"\nreproduce: .venv/bin/python bench/peer.py --lf-python {args.lf_python} --rounds {args.rounds}")


def mean_length(model_path: str) -> float:
    """Mean tokens per training sample (TuneDesk's rendering): the attention context in the FLOPs per token."""
    from transformers import AutoTokenizer

    from engine.config.train_config import TrainConfig
    from engine.data.prepare import encode_samples, read_samples

    config = TrainConfig.from_dict({**BASE, "dataset": str(ALPACA)})
    normalized, report = read_samples(config)
    examples, _ = encode_samples(AutoTokenizer.from_pretrained(model_path), normalized, report, config)
    return sum(len(e) for e in examples) / len(examples)


if __name__ == "__main__":
    main()
