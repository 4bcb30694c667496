"""The fit planner's predictions against real CPU runs: peak memory and seconds per optimizer step.

    .venv/bin/python bench/plan_accuracy.py [--steps 8]

For each job the planner (goal fastest for LoRA, quality for full fine-tuning) plans a run on a dataset
whose rows fill the length asked for, measuring a step at the planned shapes in this process. The planned
config then trains in a fresh process; its memory is the peak RSS increase over the process after
imports (as bench/estimator.py measures it), its step time the median interval between logged steps
after the first two. Jobs: SmolLM2-135M (the bundled model) LoRA and full, and a random-init ~100M Qwen2
full fine-tune (needs ../shared's Qwen3 tokenizer; skipped without it), each at two lengths.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, sys, psutil
sys.path.insert(0, {root!r})
import torch, transformers, peft  # imported before the baseline: the run's own memory is what counts
from engine.config.train_config import TrainConfig
from engine.runs.queue import RunManager
base = psutil.Process().memory_info().rss
manager = RunManager({outputs!r})
run_id = manager.submit(TrainConfig.from_dict({config!r}))
state = manager.wait(run_id, timeout=1800)
# VmHWM, not ru_maxrss: the latter keeps the parent's RSS from before exec, which a busy parent makes the peak
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
times = [m["time"] for m in manager.metrics(run_id) if m.get("type") == "train"]
print(json.dumps({{"state": state, "increase_gb": (peak - base) / 2**30, "times": times}}))
"""


def jobs(tmp: Path) -> list[tuple[str, str, str, int]]:
    """(name, model, goal, length)."""
    out = [("SmolLM2-135M LoRA", "HuggingFaceTB/SmolLM2-135M-Instruct", "fastest", n) for n in (256, 512)]
    out += [("SmolLM2-135M full", "HuggingFaceTB/SmolLM2-135M-Instruct", "quality", n) for n in (256, 512)]
    from bench.peer import QWEN3_TOKENIZER, random_qwen2

    if QWEN3_TOKENIZER.exists():
        folder = str(random_qwen2(tmp / "qwen2-100m"))
        out += [("Qwen2 ~100M full", folder, "quality", n) for n in (256, 512)]
    else:
        print(f"(the ~100M Qwen2 rows need the Qwen3 tokenizer in {QWEN3_TOKENIZER}: skipped)")
    return out


def rows_filling(path: Path, length: int, repeats: int = 0) -> Path:
    """Rows of about `length` tokens (or `repeats` phrases): a short prompt and an answer of repeated words."""
    words = " ".join(["tune desk trains models on your own computer"] * (repeats or max(1, length // 9)))
    path.write_text("\n".join(json.dumps({"instruction": f"Say it {i}.", "output": words}) for i in range(64)),
                    encoding="utf-8")
    return path


def main() -> None:
    from bench.dataset_stats import cpu_line
    from engine.access.door import Door
    from engine.config.train_config import TrainConfig
    from engine.planning.fit_plan import FitRequest
    from engine.sizing.planner import PlanGoal

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="plan-accuracy-"))
    door = Door.open(tmp / "plans")
    print(cpu_line())
    print("\n| job | length | plan | longest row | predicted GiB | measured GiB | error | predicted s/step "
          "| measured s/step | error |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, model, goal, length in jobs(tmp):
        data = rows_filling(tmp / f"rows-{length}.jsonl", length)
        config = TrainConfig(model_name_or_path=model, dataset=str(data), max_steps=args.steps, logging_steps=1,
                             save_steps=1000, report_to="none", compare_after_training=False)
        plan = door.fit_plan(FitRequest(config, PlanGoal(goal, 4), measure=False))
        # rows just under the length asked for, so that they fill the planned max_seq_length (the estimator's
        # worst case, and the only fair comparison with it)
        repeats = max(1, int(length // 9 * (length - 12) / plan.data.lengths[-1]))
        data = rows_filling(data, length, repeats)
        plan = door.fit_plan(FitRequest(config, PlanGoal(goal, 4)))
        planned = plan.config
        code = CHILD.format(root=str(ROOT), config=planned.to_dict(), outputs=str(tmp / "outputs"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=3600)
        if out.returncode != 0 or not out.stdout.strip():
            raise SystemExit(f"{name}: the training process failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if result["state"] != "completed":
            raise SystemExit(f"{name} run {result['state']}: see {tmp / 'outputs' / 'runs'}")
        intervals = [b - a for a, b in zip(result["times"], result["times"][1:], strict=False)][1:]
        measured_s = statistics.median(intervals)
        predicted_gb, predicted_s = plan.settled.memory.total_gb, plan.timing.step_seconds
        shown = (f"{planned.finetuning_type} {planned.max_seq_length} × {planned.per_device_train_batch_size}"
                 f"×{planned.gradient_accumulation_steps}{' ckpt' if planned.gradient_checkpointing else ''}"
                 f"{' packed' if planned.packing else ''}")
        gb, seconds = result["increase_gb"], measured_s
        gb_error, s_error = 100 * (predicted_gb - gb) / gb, 100 * (predicted_s - seconds) / seconds
        print(f"| {name} | {length} | {shown} | {plan.data.lengths[-1]} | {predicted_gb:.2f} | {gb:.2f} | "
              f"{gb_error:+.0f}% | {predicted_s:.2f} | {seconds:.2f} | {s_error:+.0f}% |", flush=True)


if __name__ == "__main__":
    main()
