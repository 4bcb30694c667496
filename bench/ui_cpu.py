"""CPU used by the app server and by Chromium with the Train tab open and no training running.

    .venv/bin/python bench/ui_cpu.py [--seconds 30]

Rows: the default live view, slower settings (TUNEDESK_REFRESH_S / TUNEDESK_HARDWARE_EVERY_S), no
timer at all, and a bare Gradio page for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.app_process import AppProcess  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
BARE_PAGE = ("import gradio as gr, sys\nwith gr.Blocks() as demo:\n    gr.Markdown('hello')\n"
             "demo.launch(server_port=int(sys.argv[1]))\n")


def row(name: str, env: dict[str, str], seconds: float) -> str:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = AppProcess(Path(tmp) / "outputs").wait_ready()
            try:
                server, chromium = split_measure(app.url, app.proc.pid, seconds, True)
            finally:
                app.stop()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return f"| {name} | {server:.1f}% of a core | {chromium:.1f}% of a core |"


def split_measure(url: str, server_pid: int, seconds: float, train_tab: bool) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(url)
        if train_tab:
            page.click("#tab_train-button")
        time.sleep(5)
        server = psutil.Process(server_pid)
        chromium = [p for p in psutil.process_iter(["name"]) if "chrom" in (p.info["name"] or "")]
        s0 = server.cpu_times()
        c0 = {p.pid: p.cpu_times() for p in chromium}
        time.sleep(seconds)
        s1 = server.cpu_times()
        c1 = {p.pid: p.cpu_times() for p in chromium if p.is_running()}
        browser.close()
    server_cpu = (s1.user + s1.system - s0.user - s0.system) / seconds * 100
    chromium_cpu = sum(c1[p].user + c1[p].system - c0[p].user - c0[p].system for p in c1) / seconds * 100
    return server_cpu, chromium_cpu


def bare_row(seconds: float) -> str:
    import subprocess

    from tests.app_process import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_PAGE, str(port)], env={**os.environ,
                            "GRADIO_ANALYTICS_ENABLED": "False"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        server, chromium = split_measure(f"http://127.0.0.1:{port}", proc.pid, seconds, False)
    finally:
        proc.terminate()
    name = "a bare Gradio page (one Markdown), for comparison"
    return f"| {name} | {server:.1f}% of a core | {chromium:.1f}% of a core |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    seconds = parser.parse_args().seconds
    print("| UI setting | app server | Chromium |\n|---|---|---|")
    print(row("refresh 2 s, hardware chart every 5 s (default)", {}, seconds))
    print(row("refresh 2 s, hardware chart never", {"TUNEDESK_HARDWARE_EVERY_S": "1e9"}, seconds))
    print(row("refresh 5 s, hardware chart every 10 s",
              {"TUNEDESK_REFRESH_S": "5", "TUNEDESK_HARDWARE_EVERY_S": "10"}, seconds))
    print(row("no timer at all", {"TUNEDESK_REFRESH_S": "1e5", "TUNEDESK_HARDWARE_EVERY_S": "1e9"}, seconds))
    print(bare_row(seconds))


if __name__ == "__main__":
    main()
