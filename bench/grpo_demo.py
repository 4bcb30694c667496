"""Does the GRPO CPU demo learn? Trains the grpo_smollm2_brief_cpu preset, prints the mean reward of its
first and last steps, seconds per step, and the reward check of base vs tuned model on 10 questions the
run never trained on (samples/eval/brief_questions.jsonl).

    .venv/bin/python -m bench.grpo_demo [--steps 30] [--outputs /tmp/grpo-demo]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from bench.dataset_stats import cpu_line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=0, help="override max_steps (0 = the preset's)")
    parser.add_argument("--outputs", default="")
    parser.add_argument("--preset", default="grpo_smollm2_brief_cpu")
    args = parser.parse_args()
    from engine.config.presets import load_preset
    from engine.evaluation.reward_check import reward_check, reward_check_line
    from engine.runs.queue import RunManager

    config = load_preset(args.preset)
    if args.steps:
        config = config.replace(max_steps=args.steps)
    manager = RunManager(args.outputs or tempfile.mkdtemp(prefix="grpo-demo-"))
    started = time.time()
    run_id = manager.submit(config)
    state = manager.wait(run_id, 7200)
    wall = time.time() - started
    run = manager.run(run_id)
    if state != "completed":
        raise SystemExit(f"run {run_id} {state}: {run.status().get('error')}")
    events = [m for m in run.metrics() if m.get("type") == "train" and "reward" in m]
    k = max(1, min(5, len(events) // 4))
    first = sum(e["reward"] for e in events[:k]) / k
    last = sum(e["reward"] for e in events[-k:]) / k
    length0 = sum(e["completions_mean_length"] for e in events[:k]) / k
    length1 = sum(e["completions_mean_length"] for e in events[-k:]) / k
    check = reward_check(manager, run_id, "samples/eval/brief_questions.jsonl")
    print(cpu_line())
    print(f"| preset | steps | wall (s) | s/step | reward, first {k} steps | reward, last {k} steps "
          f"| completion tokens | held-out: base → tuned |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.preset} | {len(events)} | {wall:.0f} | {wall / max(len(events), 1):.1f} | {first:.2f} | {last:.2f} "
          f"| {length0:.0f} → {length1:.0f} | {reward_check_line(check)} |")
    print(f"run: {run.path}")
    for row in check["rows"][:3]:
        print(f"> {row['prompt']}\n  base:  {row['base'][:160]!r}\n  tuned: {row['tuned'][:160]!r}")


if __name__ == "__main__":
    main()
