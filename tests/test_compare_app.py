"""Compare Chat through the running app: the endpoints over HTTP with gradio_client, and the tab in a
real browser (both panes stream, the batch report appears), on a tiny LoRA run trained through the API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gradio_client import Client

from tests.app_process import serve
from tests.conftest import ARTIFACTS
from tests.test_app_api import numbers_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "compare-app")


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def run_id(client, tiny_model, tmp_path_factory):
    return numbers_run(client, tiny_model, tmp_path_factory.mktemp("cmp-data"))


def test_chat_endpoints(client, run_id, tiny_model):
    sides = [spec for _, spec in client.predict(api_name="/chat_sides")]
    assert f"run:{run_id}" in sides and f"base:{tiny_model}" in sides and f"run:{run_id}@checkpoint-5" in sides
    points = client.predict(run_id, api_name="/list_checkpoints")
    assert [p["name"] for p in points] == ["checkpoint-5", "checkpoint-10", "final"] and all(p["complete"]
                                                                                              for p in points)
    answer = client.predict(f"base:{tiny_model}", f"run:{run_id}", "Say the number 2.", "", 0.0, 1.0, 0, 10, 1.0, 0,
                            api_name="/chat_compare")
    again = client.predict(f"base:{tiny_model}", f"run:{run_id}", "Say the number 2.", "", 0.0, 1.0, 0, 10, 1.0, 0,
                           api_name="/chat_compare")
    assert answer["left"] and answer["right"] and (answer["left"], answer["right"]) == (again["left"],
                                                                                         again["right"])
    # a tiny base beside gigabytes free: the run's side is a merged copy of it
    assert answer["merged"] == [False, True] and not answer["shared_base"] and len(answer["templates"]) == 2
    with pytest.raises(Exception, match="a side is base"):
        client.predict("nonsense", f"run:{run_id}", "hi", api_name="/chat_compare")
    # streamed: both texts grow, and end at the same answers as the non-streamed call
    job = client.submit(f"base:{tiny_model}", f"run:{run_id}", "Say the number 2.", "", 0.0, 1.0, 0, 10, 1.0, 0,
                        api_name="/chat_stream")
    updates = list(job)
    assert len(updates) >= 3 and tuple(updates[-1]) == (answer["left"], answer["right"])
    assert all(b[1].startswith(a[1]) for a, b in zip(updates, updates[1:], strict=False))


def test_batch_compare_endpoint(client, run_id, tiny_model, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"Say the number {i}.", "answer": f"The number is {i}."})
                                 + "\n" for i in (1, 2)), encoding="utf-8")
    out = client.predict(f"base:{tiny_model}", f"run:{run_id}", str(questions), "auto", True, 8, 50,
                         api_name="/batch_compare")
    assert out["rows"] == 2 + 20 and out["summary"]["with_reference"] == 2
    assert out["summary"]["general_right"]["of"] == 20
    assert Path(out["saved"]["json"]).is_file() and Path(out["saved"]["csv"]).is_file()
    with pytest.raises(Exception, match="not found"):
        client.predict(f"base:{tiny_model}", f"run:{run_id}", str(tmp_path / "none.csv"), "auto", False, 8, 50,
                       api_name="/batch_compare")


def test_export_endpoints(client, run_id):
    import time

    job = client.predict(run_id, "gguf", "", "q8_0", "2GB", "", False, "", "hf", True, "", api_name="/export_model")
    deadline = time.time() + 240
    while time.time() < deadline:
        status = client.predict(job, api_name="/export_status")
        if status["state"] != "running":
            break
        time.sleep(0.5)
    assert status["state"] == "done", status
    result = status["result"]
    assert Path(result["gguf"]).is_file() and "Modelfile" in result["files"]
    with pytest.raises(Exception, match="already exists: tick overwrite"):
        client.predict(run_id, "gguf", "", "q8_0", "2GB", "", False, "", "hf", True, "", api_name="/export_model")
    with pytest.raises(Exception, match="choose merged, adapter, gguf"):
        client.predict(run_id, "onnx", api_name="/export_model")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_compare_chat_streams_into_both_panes(app, run_id, tiny_model):
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
        page.goto(app.url)
        page.locator("#env-machine", has_text="CPU").wait_for(timeout=60_000)
        # from the Train tab's runs: "Open in Compare Chat" puts the run right and its base left
        page.click("#tab_train-button")
        picker = page.locator("#selected-run input").first
        picker.fill(run_id)
        picker.press("Enter")
        # the Export panel beside the runs: an adapter export of the selected run, with its progress bar
        page.get_by_text("Export the selected run").click()
        page.locator("#export-format label", has_text="adapter").click()
        page.click("#export-start")
        page.locator("#export-bar[data-state=done]").wait_for(timeout=120_000)
        page.locator("#export-result", has_text="Exported to").wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "train-export.png"), full_page=True)
        page.click("#open-in-chat")
        page.locator("#chat-message").wait_for(timeout=20_000)
        page.wait_for_function(f"() => document.querySelector('#chat-right input').value.includes('{run_id}')",
                               timeout=20_000)
        page.locator("#chat-message textarea").fill("Say the number 3.")
        page.click("#chat-send")
        # both panes receive text; streaming shows intermediate states before the answers finish
        page.locator("#chat-left-pane .message.bot, #chat-left-pane [data-testid=bot]").last.wait_for(timeout=60_000)
        page.locator("#chat-right-pane .message.bot, #chat-right-pane [data-testid=bot]").last.wait_for(
            timeout=60_000)
        page.locator("#chat-info", has_text="template").wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "tab_chat.png"), full_page=True)
        page.get_by_text("Batch comparison").click()
        page.locator("#chat-batch-start").click()
        page.locator("#chat-batch-bar[data-state=done]").wait_for(timeout=240_000)
        page.locator("#chat-batch-summary", has_text="General questions right").wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "chat-batch.png"), full_page=True)
        # the same side, for other programs: its id as the OpenAI endpoint's `model`
        page.get_by_text("Use this run from other programs").click()
        # the accordion's widgets render after the click: none is there at first
        page.wait_for_function(f"() => document.querySelector('#chat-api-model textarea, #chat-api-model input')"
                               f"?.value === 'run:{run_id}'", timeout=20_000)
        page.locator("#chat-api").screenshot(path=str(ARTIFACTS / "chat-api.png"))
        browser.close()
