"""The Model Hub's search, model page and downloads through the running app: over HTTP with
gradio_client, and in a real browser (progress bar, refresh re-attaches), against the loopback hub."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from gradio_client import Client

from tests.app_process import serve
from tests.conftest import ARTIFACTS
from tests.hub_server import FakeHub

REPO = "tiny-org/tiny-qwen3"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def hub(tiny_model: Path):
    server = FakeHub()
    server.add_folder(REPO, tiny_model)
    server.add_folder("tiny-org/tiny-qwen3-copy", tiny_model)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def app(hub: FakeHub, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("hub-home")
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(home / "hf"), "TUNEDESK_CACHE": str(home / "tunedesk"),
           "TUNEDESK_REGION": "other", "MODELSCOPE_CACHE": str(home / "ms")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield from serve(tmp_path_factory, "hub-app")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


def test_search_page_download_and_use_over_http(client: Client, hub: FakeHub):
    found = client.predict("tiny-qwen3", "hf", "", "", 20, api_name="/search_models")
    assert {r["id"] for r in found} == {REPO, "tiny-org/tiny-qwen3-copy"}
    page = client.predict(REPO, "auto", "", "", api_name="/model_info")
    assert page["shape"]["architecture"] == "Qwen3ForCausalLM" and page["chat_template"]
    hub.throttle_bps = 20 * 2**20
    job = client.predict(REPO, "hf", "", "", "", api_name="/download_model")
    states = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        status = client.predict(job, api_name="/download_status")
        states.add(status["state"])
        if status["state"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    hub.throttle_bps = 0
    assert status["state"] == "done", status
    assert "running" in states and status["bytes"] == status["total"]
    listed = client.predict(api_name="/list_cached_models")
    assert any(m["id"] == REPO and m["source"] == "hf" for m in listed)
    assert client.predict(job, False, api_name="/cancel_download").endswith("done")
    structure = client.predict(REPO, api_name="/model_structure")
    assert structure["layers"] == 2
    everything = client.predict("", api_name="/download_status")["downloads"]
    assert [d["job_id"] for d in everything] == [job]


def test_bad_download_requests_come_back_as_messages(client: Client):
    with pytest.raises(Exception, match="not a hub model id"):
        client.predict("../../etc/passwd", "hf", "", "", "", api_name="/download_model")
    with pytest.raises(Exception, match="use auto, hf or modelscope"):
        client.predict(REPO, "ftp", "", "", "", api_name="/download_model")
    with pytest.raises(Exception, match="no download"):
        client.predict("nope", api_name="/download_status")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_download_in_the_browser_with_a_refresh(app, hub: FakeHub):
    from playwright.sync_api import sync_playwright

    from tests.test_browser import ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    hub.throttle_bps = 6 * 2**20
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
        page.goto(app.url)
        page.locator("#tab_hub-button").click()
        page.locator("#hub-query input, #hub-query textarea").first.fill("copy")
        page.click("#hub-search")
        page.locator("#hub-results", has_text="tiny-org/tiny-qwen3-copy").wait_for(timeout=20_000)
        page.locator("#hub-results [role=gridcell]", has_text="tiny-org/tiny-qwen3-copy").first.click()
        repo_box = page.locator("#hub-repo input, #hub-repo textarea").first
        page.wait_for_function("() => { const b = document.querySelector('#hub-repo textarea, #hub-repo input');"
                               " return b && b.value === 'tiny-org/tiny-qwen3-copy'; }", timeout=10_000)
        page.click("#hub-page")
        page.locator("#hub-page-facts", has_text="Qwen3ForCausalLM").wait_for(timeout=20_000)
        assert repo_box.input_value() == "tiny-org/tiny-qwen3-copy"
        page.click("#hub-download")
        page.locator("#hub-downloads .td-dl[data-state=running]").wait_for(timeout=20_000)
        page.wait_for_function("() => /MiB\\/s/.test(document.querySelector('#hub-downloads').innerText)",
                               timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "hub-downloading.png"), full_page=True)
        page.reload()  # the progress is the engine's: a fresh page shows the same download
        page.locator("#env-machine", has_text="CPU").wait_for(timeout=60_000)
        page.locator("#tab_hub-button").click()
        page.locator("#hub-downloads", has_text="tiny-org/tiny-qwen3-copy").wait_for(timeout=20_000)
        try:
            page.locator("#hub-downloads .td-dl[data-state=done]").first.wait_for(timeout=60_000)
        finally:
            page.screenshot(path=str(ARTIFACTS / "tab_hub_download.png"), full_page=True)
        page.locator("#hub-disk", has_text="tiny-org/tiny-qwen3-copy").wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "tab_hub_download.png"), full_page=True)
        browser.close()
    hub.throttle_bps = 0
