"""Did the CPU demo hurt? The identity demo trained with and without replay ("keep general behaviour"),
each compared with the base SmolLM2 on identity paraphrases it never saw and on TuneDesk's 20 general
questions. Prints one table (about 6 minutes per variant on 2 cores).

    .venv/bin/python -m bench.forgetting [--variants off,on] [--outputs /tmp/forgetting]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def run_variant(outputs: str, replay: float) -> dict:
    from engine.config.presets import load_preset
    from engine.evaluation.batch import BatchComparer, CompareRequest
    from engine.inference.pool import POOL
    from engine.runs.queue import RunManager

    config = load_preset("cpu_demo_smollm2_lora").replace(replay_ratio=replay, run_name=f"replay-{replay:g}")
    manager = RunManager(outputs)
    started = time.time()
    run_id = manager.submit(config)
    state = manager.wait(run_id, 3600)
    trained = time.time() - started
    if state != "completed":
        raise SystemExit(f"run {run_id} {state}: {manager.run(run_id).status().get('error')}")
    report = BatchComparer(manager).run(CompareRequest(f"base:{config.model_name_or_path}", f"run:{run_id}",
                                                       questions="samples/eval/identity_questions.jsonl",
                                                       max_new_tokens=64))
    POOL.release()
    s = report["summary"]
    return {"replay": replay, "train_s": round(trained),
            "identity": f"{s['task_right']['right']}/{s['task_right']['of']}",
            "identity_base": f"{s['task_right']['left']}/{s['task_right']['of']}",
            "general": f"{s['general_right']['right']}/{s['general_right']['of']}",
            "general_base": f"{s['general_right']['left']}/{s['general_right']['of']}",
            "leaks": f"{s.get('general_leaks', {}).get('right', 0)}/{s['general_right']['of']}",
            "rougeL": s["right_rougeL"], "report": report["saved"]["json"]}


def main() -> None:
    from bench.dataset_stats import cpu_line

    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="off,on", help="off = replay_ratio 0, on = the preset's replay")
    parser.add_argument("--outputs", default="")
    args = parser.parse_args()
    from engine.config.presets import load_preset

    preset_replay = load_preset("cpu_demo_smollm2_lora").replay_ratio or 2.0
    outputs = args.outputs or tempfile.mkdtemp(prefix="tunedesk-forgetting-")
    rows = [run_variant(outputs, 0.0 if v == "off" else preset_replay) for v in args.variants.split(",")]
    print(cpu_line())
    print(f"{'replay':>6} {'train s':>8} {'identity (base)':>16} {'general right (base)':>21} {'leaks':>6} "
          f"{'ROUGE-L':>8}")
    for r in rows:
        print(f"{r['replay']:>6g} {r['train_s']:>8} {r['identity'] + ' (' + r['identity_base'] + ')':>16} "
              f"{r['general'] + ' (' + r['general_base'] + ')':>21} {r['leaks']:>6} {r['rougeL']:>8}")
    for r in rows:
        print(f"replay {r['replay']:g}: {r['report']}")


if __name__ == "__main__":
    main()
