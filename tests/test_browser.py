"""A real browser (Debian's Chromium through Playwright) on the real app: tabs, a run from the form,
live charts, a refresh mid-run that re-attaches, and switching language. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.app_process import serve
from tests.conftest import ARTIFACTS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "browser")


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        yield context.new_page()
        browser.close()


def set_field(page, name: str, value: object) -> None:
    box = page.locator(f"#field-{name} input, #field-{name} textarea").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def progress(page) -> dict:
    return page.evaluate("""() => { const el = document.querySelector('#run-progress');
        return el ? {state: el.dataset.state, step: Number(el.dataset.step)} : {state: null, step: 0}; }""")


def loss_points(page) -> int:
    return page.evaluate("""() => { const plot = document.querySelector('#loss-plot .js-plotly-plot');
        return plot && plot.data && plot.data.length ? plot.data[0].x.length : 0; }""")


def test_each_tab_opens(app, page):
    page.goto(app.url)
    page.locator("#env-machine", has_text="CPU").wait_for(timeout=60_000)  # the first tab fills in on load
    page.locator("#env-readiness", has_text="SDPA attention").wait_for(timeout=30_000)
    page.locator("#env-can-train", has_text="SmolLM2-135M-Instruct").wait_for(timeout=30_000)
    page.locator("#env-can-train", has_text="LoRA, batch 1 × 16, 1024 tokens").wait_for(timeout=30_000)  # planned
    page.wait_for_function("() => { const p = document.querySelector('#env-live .js-plotly-plot');"
                           " return p && p.data && p.data.length >= 2 && p.data[0].x.length >= 2; }", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "tab_env.png"), full_page=True)
    page.locator("#tab_hub-button", has_text="Model Hub").click()
    page.locator("#hub-catalog", has_text="SmolLM2-135M-Instruct").wait_for(timeout=15_000)
    page.get_by_label("Only models that fit this machine").check()
    page.wait_for_function("() => !document.querySelector('#hub-catalog').innerText.includes('Qwen2.5-14B')",
                           timeout=15_000)  # 14B fits no 2-core CPU machine, nor a consumer GPU with LoRA
    page.get_by_text("Model structure (built on the meta device").click()
    page.click("#hub-show-structure")
    page.wait_for_function("() => { const p = document.querySelector('#hub-treemap .js-plotly-plot');"
                           " return p && p.data && p.data[0].type === 'treemap' && p.data[0].ids.length > 50; }",
                           timeout=60_000)
    page.locator("#hub-structure-facts", has_text="LlamaForCausalLM").wait_for()
    page.screenshot(path=str(ARTIFACTS / "tab_hub.png"), full_page=True)
    page.locator("#tab_chat-button", has_text="Compare Chat").click()
    page.locator("#chat-message").wait_for()
    page.locator("#chat-left input").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "tab_chat_empty.png"))
    page.click("#tab_data-button")
    page.locator("#data-inspect").wait_for()
    page.click("#tab_train-button")
    page.locator("#start").wait_for()
    # the memory verdict for the form sits by Start: the bundled SmolLM2 LoRA preset fits any machine
    page.locator("#fit-verdict", has_text="fits").wait_for(timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "train-form.png"), full_page=True)
    set_field(page, "max_seq_length", 131072)
    page.locator("#fit-verdict", has_text="does not fit").wait_for(timeout=15_000)


def test_run_from_the_form_with_live_chart_and_refresh(app, page, tiny_model, chat_file):
    page.goto(app.url)
    page.click("#tab_train-button")
    set_field(page, "model_name_or_path", tiny_model)
    set_field(page, "dataset", chat_file)
    for name, value in (("max_steps", 120), ("max_seq_length", 128),
                        ("per_device_train_batch_size", 2)):
        set_field(page, name, value)
    page.click("#start")
    page.locator("#action-message", has_text="run").wait_for(timeout=30_000)
    run_id = page.locator("#action-message").inner_text().split()[-1]
    page.wait_for_function("() => Number(document.querySelector('#run-progress')?.dataset.step) >= 3",
                           timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "train-running.png"), full_page=True)
    before = progress(page)
    assert before["state"] == "running"

    page.reload()  # the run belongs to the engine, not to this page: it must re-attach
    page.click("#tab_train-button")
    page.wait_for_function("() => document.querySelector('#run-progress') !== null", timeout=30_000)
    assert page.locator("#selected-run input").input_value() == run_id
    assert progress(page)["step"] >= before["step"]
    page.wait_for_function("() => document.querySelector('#run-progress')?.dataset.state === 'completed'",
                           timeout=180_000)
    page.wait_for_function("() => { const p = document.querySelector('#loss-plot .js-plotly-plot');"
                           " return p && p.data && p.data[0].x.length >= 100; }", timeout=30_000)
    assert loss_points(page) >= 100
    # gradient flow: one heatmap row per trained block (the LoRA layers of the tiny model), a column per step
    page.wait_for_function("() => { const p = document.querySelector('#grad-plot .js-plotly-plot');"
                           " return p && p.data && p.data[0].type === 'heatmap' && p.data[0].y.length === 2"
                           " && p.data[0].x.length >= 100; }", timeout=30_000)
    assert page.locator("#runs-table").get_by_text(run_id).count() >= 1
    page.screenshot(path=str(ARTIFACTS / "train-completed.png"), full_page=True)


def test_fit_to_this_machine_fills_the_form_marks_the_changes_and_undoes(app, page, tiny_model, chat_file):
    page.goto(app.url)
    page.click("#tab_train-button")
    set_field(page, "model_name_or_path", tiny_model)
    set_field(page, "dataset", chat_file)
    set_field(page, "max_seq_length", 1024)
    page.click("#fit-plan")
    page.wait_for_function("() => document.querySelector('#fit-bar')?.dataset.state === 'done'", timeout=120_000)
    text = page.locator("#fit-plan-text")
    text.get_by_text("measured on this machine").wait_for(timeout=10_000)
    assert "max_seq_length" in text.inner_text()  # the chat file's rows are short: 1024 → 64
    assert page.locator("#field-max_seq_length input").first.input_value() == "64"
    assert page.locator(".td-planned").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "train-fit-plan.png"), full_page=True)
    page.get_by_label("简体中文").check()  # the plan's reasons follow the language
    page.locator("#fit-plan-text", has_text="本机按这些形状实测").wait_for(timeout=15_000)
    page.locator("#fit-progress", has_text="规划完成").wait_for(timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "train-fit-plan-zh.png"), full_page=True)
    page.get_by_label("English").check()
    page.click("#fit-undo")
    page.wait_for_function("() => document.querySelector('#field-max_seq_length input').value === '1024'",
                           timeout=15_000)
    assert page.locator(".td-planned").count() == 0
    assert not page.locator("#fit-undo").is_visible()


def test_grpo_from_the_form_shows_only_its_fields_and_a_reward_chart(app, page, tiny_model, tmp_path):
    import json

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps({"prompt": f"Count to {i}."}) for i in range(6)))
    page.goto(app.url)
    page.click("#tab_train-button")
    page.locator("#field-packing").wait_for()
    assert not page.locator("#field-reward_functions").is_visible()
    set_field(page, "method", "grpo")  # the form still holds the SFT demo preset's replay_ratio: ignored
    page.locator("#field-reward_functions").wait_for(timeout=30_000)  # GRPO's settings appear …
    page.locator("#field-packing").wait_for(state="hidden", timeout=15_000)  # … and SFT's packing goes
    assert not page.locator("#field-dpo_beta").is_visible()
    set_field(page, "model_name_or_path", tiny_model)
    set_field(page, "dataset", prompts)
    for name, value in (("reward_functions", "length:1"), ("reward_target_length", 3), ("max_steps", 3),
                        ("per_device_train_batch_size", 4), ("grpo_num_generations", 2),
                        ("grpo_max_completion_length", 8), ("max_seq_length", 128)):
        set_field(page, name, value)
    page.click("#start")
    page.locator("#action-message", has_text="run").wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#run-progress')?.dataset.state === 'completed'",
                           timeout=240_000)
    page.wait_for_function("() => { const p = document.querySelector('#reward-plot .js-plotly-plot');"
                           " return p && p.data && p.data.some(t => t.name === 'length' && t.x.length === 3); }",
                           timeout=30_000)
    page.locator("#log-box textarea").first.wait_for()
    assert "sampled completions" in page.locator("#log-box textarea").first.input_value()
    page.screenshot(path=str(ARTIFACTS / "train-grpo.png"), full_page=True)


def test_the_form_shows_the_knobs_of_the_chosen_finetuning_type(app, page):
    page.goto(app.url)
    page.click("#tab_train-button")
    page.locator("#group-lora").wait_for()  # the demo preset trains LoRA: its group, closed, with the variants
    page.locator("#group-lora").get_by_text("LoRA").first.click()
    page.locator("#field-use_dora").wait_for(timeout=15_000)
    assert not page.locator("#field-freeze_trainable_layers").is_visible()
    set_field(page, "finetuning_type", "freeze")
    page.locator("#field-freeze_trainable_layers").wait_for(timeout=15_000)
    page.locator("#group-lora").wait_for(state="hidden", timeout=15_000)  # no adapter: the LoRA group goes
    set_field(page, "finetuning_type", "qlora")
    page.locator("#group-quant").wait_for(timeout=15_000)
    page.locator("#field-loraplus_lr_ratio").wait_for(timeout=15_000)
    assert not page.locator("#field-freeze_trainable_modules").is_visible()
    page.locator("#group-lora").screenshot(path=str(ARTIFACTS / "train-lora-knobs.png"))


def test_two_runs_compared_in_the_train_tab(app, page, tiny_model, chat_file):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    ids = []
    for rate in (5e-3, 2e-2):
        overrides = (f'{{"model_name_or_path": "{tiny_model}", "dataset": "{chat_file}", "max_steps": 5, '
                     f'"learning_rate": {rate}, "per_device_train_batch_size": 2, "max_seq_length": 128}}')
        ids.append(client.predict("", "", overrides, api_name="/start_run"))
    for run_id in ids:
        deadline = time.time() + 180
        while client.predict(run_id, api_name="/get_run")["state"] not in ("completed", "failed"):
            assert time.time() < deadline
            time.sleep(0.3)
    page.goto(app.url)
    page.click("#tab_train-button")
    page.locator("#compare-runs").get_by_text("Compare runs").first.click()
    pick = page.locator("#compare-pick input").first
    for run_id in ids:
        pick.click()
        pick.fill(run_id)
        page.locator("ul.option-list li", has_text=run_id).first.click()
    page.click("#compare-go")
    page.wait_for_function("""(ids) => { const p = document.querySelector('#compare-plot .js-plotly-plot');
        return p && p.data && ids.every(id => p.data.some(t => t.name === id && t.x.length === 5)); }""",
                           arg=ids, timeout=30_000)
    page.locator("#compare-diff", has_text="learning_rate").wait_for(timeout=15_000)
    page.locator("#compare-runs").screenshot(path=str(ARTIFACTS / "train-compare-runs.png"))
    # the lineage of the selected run: its base model and dataset above it, with their hashes
    # found as a user with many runs finds one: the search leaves its row alone in the table
    page.locator("#runs-search input").fill(ids[0])
    page.wait_for_function("([id, other]) => { const text = document.querySelector('#runs-table').innerText;"
                           " return text.includes(id) && !text.includes(other); }", arg=ids, timeout=15_000)
    # the table keeps hidden copies of its cells (to size the columns): the one on screen is clicked
    page.locator("#runs-table").get_by_text(ids[0]).filter(visible=True).first.click()
    page.locator("#runs-search input").fill("")
    page.locator("#lineage").get_by_text("Lineage of the selected run").first.click()
    view = page.locator("#lineage-view")
    view.filter(has_text=ids[0]).wait_for(timeout=15_000)
    assert "base model" in view.inner_text() and "dataset" in view.inner_text() and "sha256" in view.inner_text()
    page.wait_for_function("""(run) => { const p = document.querySelector('#lineage-plot .js-plotly-plot');
        return p && p.data && p.data.some(t => (t.customdata || []).includes('run:' + run)); }""",
                           arg=ids[0], timeout=15_000)
    page.locator("#lineage").screenshot(path=str(ARTIFACTS / "train-lineage.png"))
    # a name and tags, and the search over the runs table
    page.locator("#run-name input").fill("first try")
    page.locator("#run-tags input").fill("baseline, 基线")
    page.click("#run-label-save")
    page.locator("#action-message", has_text="Saved the name and tags").wait_for(timeout=15_000)
    page.locator("#runs-search input").fill("基线")
    page.wait_for_function("([id, other]) => { const text = document.querySelector('#runs-table').innerText;"
                           " return text.includes('first try #baseline #基线') && text.includes(id)"
                           " && !text.includes(other); }", arg=ids, timeout=15_000)
    assert client.predict("baseline", api_name="/search_runs")[0]["run_id"] == ids[0]
    page.get_by_label("简体中文").check()
    page.locator("#compare-diff", has_text="设置项").wait_for(timeout=15_000)
    page.wait_for_function("() => [...document.querySelectorAll('#compare-plot .annotation-text')]"
                           ".some(t => t.textContent === '学习率')", timeout=15_000)
    page.locator("#compare-runs").screenshot(path=str(ARTIFACTS / "train-compare-runs-zh.png"))


def test_language_switches_at_run_time(app, page):
    page.goto(app.url)
    page.get_by_label("简体中文").check()
    page.locator("#tab_train-button", has_text="训练").wait_for(timeout=15_000)
    page.click("#tab_train-button")
    page.get_by_text("开始训练").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "train-zh.png"))
    page.get_by_label("English").check()
    page.locator("#tab_train-button", has_text="Train").wait_for(timeout=15_000)


def type_into(page, selector: str, value: object) -> None:
    box = page.locator(f"{selector} input, {selector} textarea").first
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def test_dataset_explorer_inspect_preview_save_and_use_in_train(app, page, tiny_model):
    from tests.conftest import ROOT

    page.goto(app.url)
    page.click("#tab_data-button")
    type_into(page, "#data-source", ROOT / "samples" / "formats" / "openai_parts.jsonl")
    type_into(page, "#data-model", tiny_model)
    type_into(page, "#data-max-len", 160)
    page.click("#data-inspect")
    page.locator("#data-summary", has_text="Format: openai").wait_for(timeout=60_000)
    page.locator("#data-preview .td-t").first.wait_for(timeout=30_000)
    assert page.locator("#data-preview .td-m").count() > 0
    assert "<think>" in page.locator("#data-preview").inner_text()  # the reasoning part, as Qwen3 renders it
    page.wait_for_function("() => { const p = document.querySelector('#data-histogram .js-plotly-plot');"
                           " return p && p.data && p.data.length >= 3; }", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "data-explorer.png"), full_page=True)

    page.click("#data-next")
    page.locator("#data-preview", has_text="Row 4").wait_for(timeout=30_000)
    type_into(page, "#data-save-name", "browser-set")
    type_into(page, "#data-valid-size", 1)
    page.click("#data-save")
    page.locator("#data-message", has_text="Saved 4 train / 1 validation").wait_for(timeout=30_000)
    page.click("#data-use")
    page.locator("#start").wait_for(timeout=15_000)
    page.wait_for_function("() => (document.querySelector('#field-dataset input')?.value || '')"
                           ".endsWith('datasets/browser-set')", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "data-used-in-train.png"))


def test_dataset_explorer_in_chinese_with_a_broken_file(app, page, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"instruction": "你好", "output": "我是 TuneBot。"}\n{oops\n{"instruction": "q"}\n',
                      encoding="utf-8")
    page.goto(app.url)
    page.get_by_label("简体中文").check()
    page.locator("#tab_data-button", has_text="数据集浏览").wait_for(timeout=15_000)
    page.click("#tab_data-button")
    type_into(page, "#data-source", broken)
    page.click("#data-inspect")
    page.locator("#data-summary", has_text="格式：alpaca").wait_for(timeout=120_000)
    page.locator("#data-summary", has_text="错误 2 行").wait_for()
    page.get_by_text("错误行").first.click()
    page.locator("#data-bad-rows", has_text="broken.jsonl line 2").wait_for(timeout=10_000)
    # the reasons in the page's language: the engine's messages, not English sentences
    page.locator("#data-bad-rows", has_text="不是有效的 JSON").wait_for(timeout=10_000)
    page.locator("#data-bad-rows", has_text="output 为空或缺失").wait_for(timeout=10_000)
    page.locator("#data-summary", has_text="字段 'instruction', 'output'").wait_for(timeout=10_000)  # why alpaca
    page.locator("#data-preview", has_text="不是有效的 JSON").wait_for(timeout=10_000)  # the preview's rows too
    page.screenshot(path=str(ARTIFACTS / "data-explorer-zh.png"), full_page=True)
    # a multimodal file is named as such, in the page's language, and the page stays usable
    media = tmp_path / "mllm.jsonl"
    media.write_text(json.dumps({"messages": [{"role": "user", "content": "<image>这是什么？"},
                                              {"role": "assistant", "content": "一只猫。"}],
                                 "images": ["pics/1.jpg"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    type_into(page, "#data-source", media)
    page.click("#data-inspect")
    page.locator("#data-message", has_text="此数据集包含图像（字段 'images'）").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "data-explorer-media-zh.png"), full_page=True)


def test_dropped_files_of_each_format_are_detected(app, page, tiny_model):
    """Files uploaded as a user drops them: each gets its format; several at once become one dataset."""
    from tests.conftest import ROOT

    formats = ROOT / "samples" / "formats"
    page.goto(app.url)
    page.click("#tab_data-button")
    type_into(page, "#data-model", tiny_model)
    for name, fmt in (("kto.jsonl", "kto"), ("pairwise.jsonl", "pairwise"), ("text.jsonl", "text"),
                      ("sharegpt_tools.json", "sharegpt")):
        page.locator("#data-upload input[type=file]").set_input_files(str(formats / name))
        page.wait_for_function(f"() => (document.querySelector('#data-source input')?.value || '')"
                               f".endsWith('{name}')", timeout=30_000)
        page.click("#data-inspect")
        page.locator("#data-summary", has_text=f"Format: {fmt}").wait_for(timeout=60_000)
    # several files dropped together are one dataset: 3 csv rows + 2 tsv rows
    page.locator("#data-upload input[type=file]").set_input_files([str(formats / "alpaca.csv"),
                                                                  str(formats / "alpaca.tsv")])
    page.wait_for_function("() => !(document.querySelector('#data-source input')?.value || '').endsWith('.json')",
                           timeout=30_000)
    page.click("#data-inspect")
    page.locator("#data-summary", has_text="5 rows · 5 usable").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "data-upload.png"), full_page=True)
