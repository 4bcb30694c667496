"""Memory comes back: many consecutive tiny runs in one app process, measured from outside.

Starts the real app (python app.py), submits runs one after another over its HTTP API (LoRA, full,
QLoRA, DPO, a run that fails on bad data, a run stopped mid-way; repeated), and reads the app process's
resident memory after each run ends. Prints a table; --json writes the figures for the test.

    .venv/bin/python bench/memory_runs.py [--runs 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.dataset_stats import cpu_line  # noqa: E402
from tests.app_process import AppProcess  # noqa: E402
from tests.conftest import QWEN3_TOKENIZER, build_tiny_model  # noqa: E402

KINDS = ("lora", "full", "qlora", "dpo", "failed", "stopped")


def write_data(folder: Path) -> dict[str, Path]:
    chat = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(16)]
    pairs = [{"prompt": f"Is {i} even?", "chosen": "yes" if i % 2 == 0 else "no",
              "rejected": "no" if i % 2 == 0 else "yes"} for i in range(8)]
    files = {"chat": folder / "chat.json", "pairs": folder / "pairs.json", "bad": folder / "bad.json"}
    files["chat"].write_text(json.dumps(chat))
    files["pairs"].write_text(json.dumps(pairs))
    files["bad"].write_text(json.dumps([{"instruction": "", "output": ""}] * 4))  # no usable row: fails on data
    return files


def config_for(kind: str, model: Path, data: dict[str, Path]) -> dict:
    base = {"model_name_or_path": str(model), "dataset": str(data["chat"]), "max_steps": 4,
            "per_device_train_batch_size": 2, "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 100,
            "max_seq_length": 128, "precision": "fp32", "run_name": f"mem-{kind}"}
    extra = {"lora": {}, "full": {"finetuning_type": "full"},
             "qlora": {"finetuning_type": "qlora", "quantization_bit": 4},
             "dpo": {"method": "dpo", "dataset": str(data["pairs"])},
             "failed": {"dataset": str(data["bad"])},
             "stopped": {"max_steps": 400}}[kind]
    return {**base, **extra}


def settle(client, run_id: str, stop_at: int | None = None, timeout: float = 300) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run_id, api_name="/get_run")["status"]
        if stop_at is not None and status.get("step", 0) >= stop_at and status["state"] == "running":
            client.predict(run_id, api_name="/stop_run")
            stop_at = None
        if status["state"] in ("completed", "failed", "stopped"):
            return status["state"]
        time.sleep(0.3)
    raise TimeoutError(run_id)


def measure(n_runs: int) -> list[dict]:
    from gradio_client import Client

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_tiny_model(tmp / "tiny", QWEN3_TOKENIZER)
        data = write_data(tmp)
        app = AppProcess(tmp / "outputs").wait_ready()
        try:
            client = Client(app.url, verbose=False)
            proc = psutil.Process(app.proc.pid)
            rss = proc.memory_info().rss / 2**20
            rows.append({"run": 0, "kind": "app started", "state": "", "seconds": 0.0, "rss_mib": rss})
            for i in range(n_runs):
                kind = KINDS[i % len(KINDS)]
                started = time.perf_counter()
                run_id = client.predict(yaml.safe_dump(config_for(kind, model, data)), "", "", api_name="/start_run")
                state = settle(client, run_id, stop_at=2 if kind == "stopped" else None)
                seconds = time.perf_counter() - started
                time.sleep(1.0)  # the worker thread releases memory after the final state is written
                rows.append({"run": i + 1, "kind": kind, "state": state, "seconds": seconds,
                             "rss_mib": proc.memory_info().rss / 2**20})
        finally:
            app.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = measure(args.runs)
    first, cycle = rows[1]["rss_mib"], rows[min(len(KINDS), len(rows) - 1)]["rss_mib"]
    print(f"# memory after consecutive runs in one app process\n# {cpu_line()}\n")
    print(f"| run | kind | state | seconds | app RSS (MiB) | vs after run 1 | vs after run {len(KINDS)} (each kind "
          "once) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        ratio = f"{row['rss_mib'] / first - 1:+.1%}" if row["run"] else ""
        later = f"{row['rss_mib'] / cycle - 1:+.1%}" if row["run"] >= len(KINDS) else ""
        print(f"| {row['run']} | {row['kind']} | {row['state']} | {row['seconds']:.1f} | {row['rss_mib']:.0f} | "
              f"{ratio} | {later} |")
    last = rows[-1]["rss_mib"]
    print(f"\nafter {args.runs} runs: {last:.0f} MiB, {last / first - 1:+.1%} against after run 1 and "
          f"{last / cycle - 1:+.1%} against after run {len(KINDS)} (target within ±10%)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
