"""Load while a run trains: many API clients polling and browsers on the Train tab, against the real app.

    .venv/bin/python bench/load.py [--clients 20] [--browsers 2] [--seconds 120] [--quiet-seconds 60]
                                   [--preset cpu_demo_smollm2_lora] [--json FILE]

One run trains through three windows: quiet, loaded, quiet again. In the loaded window each client polls
`get_run` and one other read endpoint in turn, once a second (the rate of the UI's own timer), and each
browser shows the Train tab with its live charts. Printed: calls made, failures, latency per endpoint,
seconds per training step in each window, and the run's files against a run's usual set. Run it alone:
any other busy process on a 2-core machine distorts the figures more than the load does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset_stats import cpu_line  # noqa: E402
from tests.app_process import AppProcess  # noqa: E402

# the other read endpoints a client cycles through besides get_run
READS = (("/list_runs", lambda run_id: ()), ("/run_log", lambda run_id: (run_id, 40)),
         ("/list_checkpoints", lambda run_id: (run_id,)), ("/chat_sides", lambda run_id: ()),
         ("/list_datasets", lambda run_id: ()), ("/download_status", lambda run_id: ("",)))
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]


class Poller(threading.Thread):
    """One API client on Gradio's REST route (`/gradio_api/call/<name>`, as curl would use it) with its own
    session hash and kept-alive connection: a remote client's cost falls on the app, almost none on this
    machine. (gradio_client spends ~60 ms of CPU per call on the caller's side, which on 2 shared cores
    would measure the load generator, not the app.)"""

    def __init__(self, port: int, run_id: str, index: int, until: float, interval: float):
        super().__init__(daemon=True)
        self.port, self.run_id, self.index, self.until, self.interval = port, run_id, index, until, interval
        self.calls: list[tuple[str, float, bool]] = []  # (endpoint, seconds, ok)
        self.errors: list[str] = []

    def call(self, conn: http.client.HTTPConnection, api: str, args: tuple) -> None:
        body = json.dumps({"data": list(args), "session_hash": f"load-{self.index}"})
        conn.request("POST", f"/gradio_api/call{api}", body=body, headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        event = json.loads(reply.read())["event_id"]
        conn.request("GET", f"/gradio_api/call{api}/{event}")
        reply = conn.getresponse()
        text = reply.read().decode()
        if reply.status != 200 or "event: complete" not in text:
            raise RuntimeError(f"HTTP {reply.status}: {text[:200]}")

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        turn = self.index
        while time.time() < self.until:
            started = time.time()
            other, make_args = READS[turn % len(READS)]
            for api, args in (("/get_run", (self.run_id,)), (other, make_args(self.run_id))):
                t0 = time.perf_counter()
                try:
                    self.call(conn, api, args)
                    self.calls.append((api, time.perf_counter() - t0, True))
                except Exception as exc:  # noqa: BLE001 (any failure is a finding, counted and shown)
                    self.calls.append((api, time.perf_counter() - t0, False))
                    self.errors.append(f"{api}: {exc}"[:300])
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            turn += 1
            time.sleep(max(0.0, self.interval - (time.time() - started)))


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def chromium_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if "chrom" in (p.info["name"] or "").lower()]


def step_times(run_dir: Path) -> list[tuple[float, float]]:
    """(end time, seconds) of each training step after the first two (warm-up)."""
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = sorted((e["step"], e["time"]) for e in events if e.get("type") == "train")
    return [(t1, t1 - t0) for (s0, t0), (s1, t1) in zip(steps, steps[1:], strict=False) if s0 >= 2 and s1 == s0 + 1]


def in_window(times: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [d for t, d in times if start <= t - d and t <= end]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def wait_for_step(status: Path, step: int, timeout: float = 900) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = json.loads(status.read_text())
        if state.get("step", 0) >= step:
            return
        if state["state"] in ("failed", "completed", "stopped"):
            raise RuntimeError(f"the run ended early: {state}")
        time.sleep(1)
    raise TimeoutError("the run never started training")


def measure(args: argparse.Namespace) -> dict:
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp:
        outputs = Path(tmp) / "outputs"
        app = AppProcess(outputs).wait_ready()
        browser = None
        try:
            client = Client(app.url, verbose=False)
            overrides = {"max_steps": 100_000, "save_steps": 100_000, "replay_ratio": 0.0, "precision": "fp32"}
            run_id = client.predict("", args.preset, json.dumps(overrides), api_name="/start_run")
            run_dir = outputs / "runs" / run_id
            wait_for_step(run_dir / "status.json", 3)

            quiet_a = (time.time(), time.time() + args.quiet_seconds)
            app_cpu = cpu_seconds([psutil.Process(app.proc.pid)])
            time.sleep(args.quiet_seconds)
            quiet_cpu = (cpu_seconds([psutil.Process(app.proc.pid)]) - app_cpu) / args.quiet_seconds

            pages = []
            if args.browsers:
                from playwright.sync_api import sync_playwright

                browser = sync_playwright().start()
                chromium = browser.chromium.launch(executable_path=shutil.which("chromium"), args=BROWSER_ARGS)
                for _ in range(args.browsers):
                    page = chromium.new_context(viewport={"width": 1500, "height": 1100}).new_page()
                    page.goto(app.url)
                    page.click("#tab_train-button")
                    pages.append(page)
            app_proc, me, browsers = psutil.Process(app.proc.pid), psutil.Process(), chromium_processes()
            cpu_before = (cpu_seconds([app_proc]), cpu_seconds([me]), cpu_seconds(browsers))
            loaded_start = time.time()
            pollers = [Poller(app.port, run_id, i, loaded_start + args.seconds, 1.0) for i in range(args.clients)]
            for poller in pollers:
                poller.start()
            for poller in pollers:
                poller.join()
            loaded = (loaded_start, time.time())
            cpu_after = (cpu_seconds([app_proc]), cpu_seconds([me]), cpu_seconds(browsers))
            cpu = {name: (after - before) / (loaded[1] - loaded[0]) for name, before, after
                   in zip(("app", "clients", "browsers"), cpu_before, cpu_after, strict=True)}
            # the browsers stayed on the Train tab the whole window: their run view must show live steps
            shown = [page.locator("#run-progress").inner_text() for page in pages]
            if browser is not None:
                chromium.close()
                browser.stop()
                browser = None

            quiet_b = (time.time(), time.time() + args.quiet_seconds)
            time.sleep(args.quiet_seconds)
            client.predict(run_id, api_name="/stop_run")
            deadline = time.time() + 300
            while json.loads((run_dir / "status.json").read_text())["state"] == "running" and time.time() < deadline:
                time.sleep(1)
            files = sorted(p.name for p in run_dir.iterdir())
            times = step_times(run_dir)
        finally:
            if browser is not None:
                browser.stop()
            app.stop()

    calls = [c for p in pollers for c in p.calls]
    errors = [e for p in pollers for e in p.errors]
    by_api: dict[str, list[float]] = {}
    for api, seconds, _ in calls:
        by_api.setdefault(api, []).append(seconds)
    quiet = in_window(times, *quiet_a) + in_window(times, *quiet_b)
    busy = in_window(times, *loaded)
    return {
        "clients": args.clients, "browsers": args.browsers, "seconds": args.seconds, "calls": len(calls),
        "failures": len(errors), "errors": errors[:10],
        "latency": {api: {"n": len(v), "p50_ms": 1000 * statistics.median(v), "p95_ms": 1000 * percentile(v, 0.95),
                          "max_ms": 1000 * max(v)} for api, v in sorted(by_api.items())},
        "s_per_step_quiet": statistics.mean(quiet) if quiet else None,
        "s_per_step_loaded": statistics.mean(busy) if busy else None,
        "steps_quiet": len(quiet), "steps_loaded": len(busy), "files": files, "browser_progress": shown,
        "cpu_cores_used": {"app (quiet)": quiet_cpu, **{f"{k} (loaded)": v for k, v in cpu.items()}},
    }


USUAL_FILES = {"checkpoint-", "config.yaml", "data_report.json", "metrics.jsonl", "status.json", "train.log"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--browsers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--quiet-seconds", type=float, default=60)
    parser.add_argument("--preset", default="cpu_demo_smollm2_lora")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args)
    print(f"# load on the app while a run trains ({args.preset}, fp32)\n# {cpu_line()}\n")
    print(f"{result['clients']} API clients (each: get_run + one other read per second) and {result['browsers']} "
          f"browsers on the Train tab for {result['seconds']:.0f} s: {result['calls']} calls, "
          f"{result['failures']} failed\n")
    print("| endpoint | calls | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for api, row in result["latency"].items():
        print(f"| {api} | {row['n']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['max_ms']:.0f} |")
    quiet, busy = result["s_per_step_quiet"], result["s_per_step_loaded"]
    if quiet and busy:
        print(f"\n| window | steps | s/step |\n|---|---|---|\n| quiet (before and after) | {result['steps_quiet']} | "
              f"{quiet:.2f} |\n| loaded | {result['steps_loaded']} | {busy:.2f} |\n\ntraining slowed by "
              f"{busy / quiet - 1:+.1%} under load (goal ≤ +10%)")
    print("\n| process | CPU cores busy |\n|---|---|")
    for name, cores in result["cpu_cores_used"].items():
        print(f"| {name} | {cores:.2f} |")
    print(f"\nrun files: {', '.join(result['files'])}")
    print(f"browsers showed: {result['browser_progress']}")
    for error in result["errors"]:
        print("error:", error)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
