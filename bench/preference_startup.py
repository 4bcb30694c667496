"""How long a preference run takes to reach its first step, against SFT on the same rows: a random-init
2-layer Qwen3 (the real 151k-token Qwen3 vocabulary), 4 steps, fp32, each method twice (the second run
finds its encodings cached where the method has a cache). Data: 300 synthetic pairs, or `--data` (a
pairwise file such as LLaMA-Factory's dpo_en_demo.json); SFT trains on the chosen answers.

    .venv/bin/python -m bench.preference_startup [--data ../shared/data/dpo_en_demo.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def pairs(path: str) -> list[dict[str, str]]:
    if path:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        return [{"instruction": r["conversations"][-1]["value"] if "conversations" in r else r["instruction"],
                 "chosen": r["chosen"]["value"] if isinstance(r["chosen"], dict) else r["chosen"],
                 "rejected": r["rejected"]["value"] if isinstance(r["rejected"], dict) else r["rejected"]}
                for r in rows]
    return [{"instruction": f"Question {i}: what is {i} plus {i}? Explain briefly.",
             "chosen": f"{i} plus {i} is {2 * i}. " * 8, "rejected": f"I do not know about {i}. " * 8}
            for i in range(300)]


def timed_run(manager, config) -> dict[str, float]:
    started = time.time()
    run_id = manager.submit(config)
    state = manager.wait(run_id, 1800)
    if state != "completed":
        raise SystemExit(f"run {run_id} {state}: {manager.run(run_id).status().get('error')}")
    events = [json.loads(line) for line in manager.run(run_id).metrics_path.read_text().splitlines()]
    steps = [e for e in events if e.get("type") == "train" and "loss" in e]
    first, last = steps[0], steps[-1]
    per_step = (last["time"] - first["time"]) / max(last["step"] - first["step"], 1)
    return {"first_step_end": first["time"] - started, "per_step": per_step,
            "before_step_1": first["time"] - started - per_step, "total": time.time() - started}


def main() -> None:
    from bench.dataset_stats import cpu_line
    from engine.runs.queue import RunManager
    from tests.conftest import build_tiny_model, tiny_config

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tunedesk-pref-"))
    model = build_tiny_model(root / "model")
    rows = pairs(args.data)
    (root / "pairs.json").write_text(json.dumps(rows), encoding="utf-8")
    (root / "sft.json").write_text(json.dumps([{"instruction": r["instruction"], "output": r["chosen"]} for r in rows]),
                                   encoding="utf-8")
    manager = RunManager(root / "out")
    print(cpu_line())
    print(f"{len(rows)} rows ({args.data or 'synthetic'}), 4 steps, batch 2, max 256 tokens\n")
    print("| run | before step 1 s | s/step | total s |\n|---|---|---|---|")
    for method, data in (("dpo", "pairs.json"), ("sft", "sft.json")):
        for attempt in ("first", "second"):
            config = tiny_config(model, root / data, root / "out", max_steps=4, method=method, max_seq_length=256)
            t = timed_run(manager, config)
            print(f"| {method}, {attempt} run | {t['before_step_1']:.1f} | {t['per_step']:.2f} | {t['total']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
