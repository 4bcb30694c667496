"""Time from `python app.py` to the first HTTP 200 and to the full UI, on this machine.

    .venv/bin/python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.app_process import AppProcess  # noqa: E402


def measure() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app = AppProcess(Path(tmp) / "outputs")
        first = full = None
        while full is None and time.perf_counter() - started < 120:
            try:
                with urllib.request.urlopen(app.url + "/config", timeout=2) as resp:
                    first = first or time.perf_counter() - started
                    if "json" in resp.headers.get("Content-Type", ""):
                        full = time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
        app.stop()
        return first, full


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = [measure() for _ in range(parser.parse_args().runs)]
    print("| measure | median s | runs (s) |\n|---|---|---|")
    for i, name in enumerate(("first HTTP 200 (starting page)", "Gradio UI ready")):
        values = [r[i] for r in runs]
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
