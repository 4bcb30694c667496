"""Load while a run trains: 20 API clients polling the read endpoints and a browser on the Train tab.
No call fails, training goes on, the browser keeps showing live steps, and the run's files are those of
any run. Latency and slowdown are figures, measured by bench/load.py (2 minutes, 2 browsers), not here."""

from __future__ import annotations

import json
import shutil
import time

import pytest
import yaml

from bench.load import BROWSER_ARGS, Poller, percentile
from tests.app_process import AppProcess
from tests.conftest import tiny_config

pytestmark = [pytest.mark.load, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_twenty_clients_and_a_browser_while_a_run_trains(tiny_model, chat_file, tmp_path):
    from gradio_client import Client

    outputs = tmp_path / "outputs"
    app = AppProcess(outputs).wait_ready()
    browser = None
    try:
        client = Client(app.url, verbose=False)
        config = tiny_config(tiny_model, chat_file, tmp_path / "o", max_steps=100_000, save_steps=100_000,
                             logging_steps=5).to_dict()
        run_id = client.predict(yaml.safe_dump(config), "", "", api_name="/start_run")
        status_path = outputs / "runs" / run_id / "status.json"
        while json.loads(status_path.read_text()).get("step", 0) < 5:
            time.sleep(0.2)

        page = None
        if CHROMIUM:
            from playwright.sync_api import sync_playwright

            browser = sync_playwright().start()
            page = browser.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS).new_page()
            page.goto(app.url)
            page.click("#tab_train-button")
            page.wait_for_selector("#run-progress:has-text('Step')", timeout=60_000)
        step_before = json.loads(status_path.read_text())["step"]
        pollers = [Poller(app.port, run_id, i, time.time() + 30, 1.0) for i in range(20)]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()
        step_after = json.loads(status_path.read_text())["step"]
        if page is not None:
            shown = page.locator("#run-progress").inner_text()
            assert int(shown.split("Step ")[1].split(" ")[0]) > step_before, shown

        calls = [c for p in pollers for c in p.calls]
        errors = [e for p in pollers for e in p.errors]
        assert not errors, errors[:5]
        assert all(len(p.calls) >= 20 for p in pollers), [len(p.calls) for p in pollers]
        assert step_after > step_before, "training must go on under load"
        latency = sorted(s for api, s, _ in calls if api == "/get_run")
        print(f"{len(calls)} calls, 0 failed; get_run p95 {1000 * percentile(latency, 0.95):.0f} ms; "
              f"steps {step_before} → {step_after} in 30 s")

        client.predict(run_id, api_name="/stop_run")
        while json.loads(status_path.read_text())["state"] == "running":
            time.sleep(0.2)
    finally:
        if browser is not None:
            browser.stop()
        app.stop()
    run_dir = outputs / "runs" / run_id
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == sorted(["config.yaml", "data_report.json", "lineage.json", "metrics.jsonl", "status.json", "tb",
                            "train.log", f"checkpoint-{json.loads(status_path.read_text())['step']}"]), names
    steps = [e["step"] for e in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
             if e.get("type") == "train"]
    assert steps == sorted(set(steps)) and len(steps) > 10  # every logged step once, in order
