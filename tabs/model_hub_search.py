"""The Model Hub tab's top part: search Hugging Face / ModelScope, a model's page, and downloads with
live progress. Searching, pages and downloads are `engine.hub`'s; this file lays out widgets,
and a timer (running only while the tab is open) shows the engine's download state, so a refresh or a
second browser sees the same progress."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from engine.hub.info import search_models
from engine.hub.model_page import model_page
from engine.text.message import render
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.translate import Translator
from tabs.widgets import PRIVATE, WidgetGroup, job_events

ACTIVE = ("queued", "running")

def downloads_html(downloads: list[dict[str, Any]], lang: str) -> str:
    if not downloads:
        return f"<p>{html.escape(t('hub_no_downloads', lang))}</p>"
    rows = [bar_html("", d["progress"], d["message"], d["state"], css_class="td-dl") for d in downloads[:8]]
    return "".join(rows)


def page_markdown(page: dict[str, Any], lang: str) -> str:
    facts = t("hub_page_facts", lang, id=page["id"], hub="Hugging Face" if page["hub"] == "hf" else "ModelScope",
              licence=page["licence"] or "?", gated=t("hub_gated" if page["gated"] else "hub_open", lang),
              size=page["download_gb"] if page["download_gb"] is not None else "?", files=page["files_count"],
              template=t("hub_yes" if page["chat_template"] else "hub_no", lang))
    lines = [facts]
    shape = page.get("shape")
    if shape:
        lines.append(t("hub_structure_facts", lang, arch=shape["architecture"], params=f"{shape['params']:,}",
                       layers=shape["layers"], hidden=shape["hidden"], heads=shape["heads"], kv=shape["kv_heads"],
                       vocab=f"{shape['vocab']:,}", context=f"{shape['context']:,}" if shape["context"] else "?"))
    memory = page.get("memory")
    if memory:
        mark = {"fits": "✅", "tight": "⚠️", "does not fit": "❌"}
        cells = {m: f"{v['gb']} GiB {mark[v['verdict']]}" for m, v in memory.items()}
        device = t("fit_ram", lang) if memory["lora"].get("device_kind") == "cpu" else memory["lora"]["device"]
        lines.append(t("hub_mem_line", lang, device=device, **cells))
    if "plan" in page:
        plan = page["plan"]
        lines.append(t("hub_plan_line", lang, plan=render(plan["text"], lang)) if plan else t("hub_plan_none", lang))
    for note in ("download_note", "shape_note"):
        if page.get(note):
            lines.append(f"⚠️ {page[note]}")
    if page.get("ggufs"):
        lines.append("GGUF: " + ", ".join(f"`{g}`" for g in page["ggufs"][:10]))
    return "\n\n".join(lines)


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> tuple[gr.Timer, Any]:
    """Returns the progress timer and a component that changes when a download completes (to refresh
    the models-on-disk list). The timer runs while a download moves and the tab is open."""
    tr.text(gr.Markdown(t("hub_find", tr.lang)), "hub_find")
    with gr.Row():
        query = tr.label(gr.Textbox(label=t("hub_query", tr.lang), elem_id="hub-query", scale=4), "hub_query")
        source = tr.label(gr.Dropdown(["auto", "hf", "modelscope"], value="auto", label=t("hub_source", tr.lang),
                                      elem_id="hub-source", scale=1, min_width=140), "hub_source")
        search_btn = tr.button("hub_search", elem_id="hub-search", scale=0, min_width=120)
    with gr.Accordion(t("hub_access", tr.lang), open=False) as access, gr.Row():
        endpoint = tr.label(gr.Textbox(label=t("hub_endpoint", tr.lang), elem_id="hub-endpoint"), "hub_endpoint")
        token = tr.label(gr.Textbox(label=t("hub_token", tr.lang), type="password", elem_id="hub-token"),
                         "hub_token")
    tr.label(access, "hub_access")
    results = tr.label(gr.Dataframe(label=t("hub_results", tr.lang), interactive=False, visible=False,
                                    elem_id="hub-results"), "hub_results")
    with gr.Row():
        repo = tr.label(gr.Textbox(label=t("hub_repo", tr.lang), elem_id="hub-repo", scale=3), "hub_repo")
        gguf = tr.label(gr.Textbox(label=t("hub_gguf", tr.lang), elem_id="hub-gguf", scale=2), "hub_gguf")
        page_btn = tr.button("hub_page", elem_id="hub-page", scale=0, min_width=130)
        download_btn = tr.button("hub_download", variant="primary", elem_id="hub-download", scale=0, min_width=130)
    page = gr.Markdown(elem_id="hub-page-facts")
    with gr.Accordion(t("hub_card", tr.lang), open=False, visible=False) as card_acc:
        card = gr.Markdown(elem_id="hub-card")
    with gr.Accordion(t("hub_template", tr.lang), open=False, visible=False) as template_acc:
        template = gr.Code(language="jinja2", interactive=False, elem_id="hub-template")
    tr.label(card_acc, "hub_card")
    tr.label(template_acc, "hub_template")
    tr.add(gr.Markdown(f"#### {t('hub_downloads', tr.lang)}"),
           lambda code: {"value": f"#### {t('hub_downloads', code)}"})
    progress = gr.HTML(downloads_html([], tr.lang), elem_id="hub-downloads")
    with gr.Row():
        job = tr.label(gr.Dropdown(choices=[], label=t("hub_job", tr.lang), elem_id="hub-job", scale=3), "hub_job")
        cancel_btn = tr.button("hub_cancel", variant="stop", elem_id="hub-cancel", scale=0, min_width=110)
        resume_btn = tr.button("hub_resume", elem_id="hub-resume", scale=0, min_width=110)
        discard_btn = tr.button("hub_discard", elem_id="hub-discard", scale=0, min_width=150)
    finished = gr.Number(0, visible=False)  # how many downloads are done; a change refreshes the disk list
    timer = gr.Timer(1.0, active=False)
    hub = HubWidgets(source, endpoint, token)
    for event in (search_btn.click, query.submit):
        event(lambda lang, text, *v: search(hub, lang, text, v), [lang_state, query, *hub.components()], results,
              **PRIVATE)

    def on_pick(evt: gr.SelectData) -> str:  # gr.SelectData is filled in by its type
        return str(evt.row_value[0]) if evt.row_value else gr.update()

    results.select(on_pick, None, repo, **PRIVATE)
    page_btn.click(lambda lang, model, *v: open_page(hub, lang, model, v), [lang_state, repo, *hub.components()],
                   [page, card_acc, card, template_acc, template], **PRIVATE)
    outputs = [progress, job, finished, timer]
    download_btn.click(lambda lang, done, model, file, *v: start_download(ctx, hub, lang, done, model, file, v),
                       [lang_state, finished, repo, gguf, *hub.components()], outputs, **job_events("download"))
    cancel_btn.click(lambda job_id, done, lang: cancel_download(ctx, job_id, done, lang), [job, finished, lang_state],
                     outputs, **job_events("download"))
    discard_btn.click(lambda job_id, done, lang: cancel_download(ctx, job_id, done, lang, discard=True),
                      [job, finished, lang_state], outputs, **job_events("download"))
    resume_btn.click(lambda job_id, tok, done, lang: resume_download(ctx, job_id, tok, done, lang),
                     [job, token, finished, lang_state], outputs, **job_events("download"))
    timer.tick(lambda done, lang: poll(ctx, done, lang), [finished, lang_state], outputs, **job_events("download"))
    ctx.on_load.append((lambda done, lang: poll(ctx, done, lang), [finished, lang_state], outputs))
    return timer, finished


@dataclass
class HubWidgets(WidgetGroup):
    """Which hub, through which address, with which token (used for the call, never stored)."""

    source: gr.Dropdown
    endpoint: gr.Textbox
    token: gr.Textbox


in_page = gradio_errors(in_page=True)


@in_page
def search(hub: HubWidgets, lang: str, text: str, values: Sequence[Any]) -> Any:
    h = hub.read(values)
    rows = search_models(text or "", h["source"], h["endpoint"] or "", h["token"] or "")
    if not rows:
        gr.Info(t("hub_no_results", lang, query=text))
    frame = pd.DataFrame([[r["id"], r["hub"], r["downloads"], r["likes"], r["task"], r["updated"],
                           "🔒" if r["gated"] else ""] for r in rows],
                         columns=["id", "hub", "downloads", "likes", "task", "updated", "gated"])
    return gr.update(value=frame, visible=True)


@in_page
def open_page(hub: HubWidgets, lang: str, model: str, values: Sequence[Any]) -> list[Any]:
    h = hub.read(values)
    info = model_page((model or "").strip(), h["source"], h["endpoint"] or "", h["token"] or "")
    return [page_markdown(info, lang), gr.update(visible=bool(info["card"])), info["card"],
            gr.update(visible=bool(info["chat_template_text"])), info["chat_template_text"]]


def poll(ctx: AppContext, done_before: float, lang: str, pick: str | None = None) -> list[Any]:
    downloads = ctx.door.downloads.status()["downloads"]
    choices = [(f"{d['repo']} · {d['state']}", d["job_id"]) for d in downloads]
    done = sum(d["state"] == "done" for d in downloads)
    job_update = gr.update(choices=choices, value=pick) if pick else gr.update(choices=choices)
    busy = any(d["state"] in ACTIVE for d in downloads)  # the timer stops itself once nothing moves
    return [downloads_html(downloads, lang), job_update, done if done != done_before else gr.update(),
            gr.Timer(active=busy)]


@in_page
def start_download(ctx: AppContext, hub: HubWidgets, lang: str, done: float, model: str, file: str,
                   values: Sequence[Any]) -> list[Any]:
    h = hub.read(values)
    job_id = ctx.door.downloads.start((model or "").strip(), h["source"], h["endpoint"] or "", h["token"] or "",
                                      (file or "").strip())
    gr.Info(t("hub_started", lang, job=job_id))
    return poll(ctx, done, lang, job_id)


@in_page
def cancel_download(ctx: AppContext, job_id: str, done: float, lang: str, discard: bool = False) -> list[Any]:
    """Cancel keeps the partial files for a later resume; discard (of a cancelled, failed or interrupted
    download) removes them."""
    if job_id:
        gr.Info(ctx.door.downloads.cancel(job_id, discard=discard))
    return poll(ctx, done, lang)


@in_page
def resume_download(ctx: AppContext, job_id: str, token: str, done: float, lang: str) -> list[Any]:
    if job_id:
        ctx.door.downloads.resume(job_id, token or "")
    return poll(ctx, done, lang)
