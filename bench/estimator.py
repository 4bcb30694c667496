"""The memory estimator against measured peak RSS increase of real CPU training runs (SmolLM2-135M).

    .venv/bin/python bench/estimator.py

Each config trains 3 steps in a fresh process on samples long enough to fill max length, so the peak
is the estimator's worst case; the increase is peak RSS minus the process's RSS after imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = [  # (finetuning_type, quantization_bit, max_len, batch, gradient_checkpointing)
    ("lora", 4, 512, 2, False),
    ("lora", 4, 1024, 2, True),
    ("full", 4, 256, 2, False),
    ("qlora", 4, 512, 2, False),
]

CHILD = """
import json, sys, psutil
sys.path.insert(0, {root!r})
import torch, transformers, peft  # imported before the baseline: the run's own memory is what counts
from engine.config.train_config import TrainConfig
from engine.runs.queue import RunManager
base = psutil.Process().memory_info().rss
config = TrainConfig.from_dict({config!r})
manager = RunManager({outputs!r})
run_id = manager.submit(config)
state = manager.wait(run_id, timeout=900)
# VmHWM, not ru_maxrss: the latter keeps the parent's RSS from before exec, which a busy parent makes the peak
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({{"state": state, "increase_gb": (peak - base) / 2**30}}))
"""


def main() -> None:
    from bench.dataset_stats import cpu_line
    from engine.sizing.catalog import find
    from engine.sizing.memory import Setting, estimate

    shape = find("SmolLM2-135M-Instruct").shape
    tmp = Path(tempfile.mkdtemp())
    data = tmp / "long.jsonl"
    words = "tune desk trains models on your own computer " * 200
    data.write_text("\n".join(json.dumps({"instruction": f"Say it {i} times.", "output": words})
                              for i in range(16)), encoding="utf-8")
    print(cpu_line())
    print("\n| method | max len | batch | checkpointing | estimated GiB | measured GiB | error |")
    print("|---|---|---|---|---|---|---|")
    for kind, bits, length, batch, ckpt in CONFIGS:
        config = {"dataset": str(data), "finetuning_type": kind, "quantization_bit": bits, "max_seq_length": length,
                  "per_device_train_batch_size": batch, "gradient_accumulation_steps": 1, "max_steps": 3,
                  "gradient_checkpointing": ckpt, "precision": "fp32", "save_steps": 1000, "logging_steps": 1}
        code = CHILD.format(root=str(ROOT), config=config, outputs=str(tmp / "outputs"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=1200)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if result["state"] != "completed":
            raise SystemExit(f"{kind} run {result['state']}: see {tmp / 'outputs' / 'runs'}")
        method = "qlora4" if kind == "qlora" else kind
        est = estimate(shape, Setting(method, "sft", length, batch, ckpt, "fp32", 8, "cpu",
                                      trained_logits=True)).total_gb  # as the run computes its loss
        measured = result["increase_gb"]
        print(f"| {method} | {length} | {batch} | {'on' if ckpt else 'off'} | {est:.2f} | {measured:.2f} | "
              f"{100 * (est - measured) / measured:+.0f}% |", flush=True)


if __name__ == "__main__":
    main()
