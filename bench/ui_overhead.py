"""Training throughput with and without the UI attached (SmolLM2-135M LoRA, the CPU demo preset).

    .venv/bin/python bench/ui_overhead.py [--steps 10]

Three runs of the same config: headless CLI, the app with no page open, and the app with a real
Chromium page showing the Train tab (live charts redrawn by its timer). Run it alone: any other
busy process slows 2-thread torch far more than the UI does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.app_process import AppProcess  # noqa: E402

PRESET = ROOT / "presets" / "cpu_demo_smollm2_lora.yaml"


def step_rate(run_dir: Path) -> tuple[float, float]:
    """Seconds per step and tokens/s, leaving out the first two steps (warm-up)."""
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [e for e in events if e.get("type") == "train" and e["step"] > 2]
    span = steps[-1]["time"] - steps[0]["time"]
    per_step = span / (steps[-1]["step"] - steps[0]["step"])
    tokens = sum(e["tokens_per_s"] for e in steps[1:]) / max(len(steps) - 1, 1)
    return per_step, tokens


def headless(steps: int, outputs: Path) -> Path:
    subprocess.run([sys.executable, "-m", "engine", "train", str(PRESET), "--set", f"max_steps={steps}",
                    "--set", "save_steps=1000", "--outputs", str(outputs)], cwd=ROOT, check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return next((outputs / "runs").iterdir())


def in_app(steps: int, outputs: Path, browser: bool) -> Path:
    from gradio_client import Client

    app = AppProcess(outputs).wait_ready()
    try:
        client = Client(app.url, verbose=False)
        page_ctx = None
        if browser:
            from playwright.sync_api import sync_playwright

            page_ctx = sync_playwright().start()
            chromium = page_ctx.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            page = chromium.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(app.url)
            page.click("#tab_train-button")
        run_id = client.predict("", PRESET.stem, json.dumps({"max_steps": steps, "save_steps": 1000}),
                                api_name="/start_run")
        status = outputs / "runs" / run_id / "status.json"
        while json.loads(status.read_text())["state"] in ("pending", "running"):
            time.sleep(2)  # read from disk: polling the API would add load of its own
        if page_ctx:
            chromium.close()
            page_ctx.stop()
        return outputs / "runs" / run_id
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    steps = parser.parse_args().steps
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("headless CLI", lambda o: headless(steps, o)),
                         ("app, no page open", lambda o: in_app(steps, o, False)),
                         ("app + Chromium on the Train tab", lambda o: in_app(steps, o, True))):
            rows.append((name, *step_rate(fn(Path(tmp) / name.replace(" ", "_")))))
    base = rows[0][1]
    print(f"| setup ({steps} steps, SmolLM2-135M LoRA, batch 6) | s/step | tokens/s | vs headless |")
    print("|---|---|---|---|")
    for name, per_step, tokens in rows:
        print(f"| {name} | {per_step:.2f} | {tokens:.1f} | {100 * (per_step / base - 1):+.1f}% |")


if __name__ == "__main__":
    main()
