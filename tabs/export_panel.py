"""The Train tab's Export panel: the selected run (or a checkpoint) as a merged model, its adapter, or a
GGUF file with an Ollama Modelfile, optionally pushed to a hub; a background job with a progress bar.
`engine.export` does the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from engine.export import kquants
from engine.export.exporter import ExportRequest
from engine.export.gguf_file import QUANTS
from engine.export.kquants import K_QUANTS
from engine.text.message import render
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.translate import Translator
from tabs.widgets import WidgetGroup, job_events


@dataclass
class ExportWidgets(WidgetGroup):
    """The panel's fields, named as ExportRequest names them (the run and the token come separately)."""

    format: gr.Radio
    quant: gr.Dropdown
    checkpoint: gr.Textbox
    destination: gr.Textbox
    shard_size: gr.Textbox
    overwrite: gr.Checkbox
    hub_repo: gr.Textbox
    hub: gr.Dropdown
    private: gr.Checkbox


def build(ctx: AppContext, tr: Translator, lang_state: gr.State, selected: gr.Dropdown) -> None:
    with gr.Accordion(t("export", tr.lang), open=False, elem_id="export-panel") as acc:
        with gr.Row():
            fmt = tr.label(gr.Radio(["gguf", "merged", "adapter"], value="gguf", label=t("export_format", tr.lang),
                                    elem_id="export-format"), "export_format")
            quant = tr.label(gr.Dropdown(quant_choices(tr.lang), value="q8_0", label=t("export_quant", tr.lang),
                                         elem_id="export-quant"), "export_quant")
            point = tr.label(gr.Textbox(label=t("export_checkpoint", tr.lang), placeholder="checkpoint-N",
                                        elem_id="export-checkpoint"), "export_checkpoint")
        with gr.Row():
            dest = tr.label(gr.Textbox(label=t("export_dest", tr.lang), elem_id="export-dest", scale=3), "export_dest")
            shard = tr.label(gr.Textbox("2GB", label=t("export_shard", tr.lang), scale=1), "export_shard")
            overwrite = tr.label(gr.Checkbox(False, label=t("export_overwrite", tr.lang)), "export_overwrite")
        with gr.Row():
            repo = tr.label(gr.Textbox(label=t("export_repo", tr.lang), placeholder="org/name", scale=2),
                            "export_repo")
            hub = gr.Dropdown(["hf", "modelscope"], value="hf", label="Hub", scale=1)
            token = tr.label(gr.Textbox(label=t("export_token", tr.lang), type="password", scale=2), "export_token")
            private = tr.label(gr.Checkbox(True, label=t("export_private", tr.lang)), "export_private")
        start = tr.button("export_start", variant="primary", elem_id="export-start")
        bar = gr.HTML(elem_id="export-progress")
        result = gr.Markdown(elem_id="export-result")
    tr.label(acc, "export")
    widgets = ExportWidgets(fmt, quant, point, dest, shard, overwrite, repo, hub, private)
    job = gr.State("")
    timer = gr.Timer(1.0, active=False)
    start.click(lambda *v: start_export(ctx, widgets, *v), [lang_state, selected, token, *widgets.components()],
                [job, timer, bar, result], **job_events("export"))
    timer.tick(lambda job_id, lang: export_tick(ctx, job_id, lang), [job, lang_state], [timer, bar, result],
               **job_events("export"))


def quant_choices(lang: str) -> list[tuple[str, str]]:
    """The GGUF types, q8_0 first; k-quants say when they need llama-cpp-python (choosing one then explains)."""
    native = ["q8_0", *(q for q in QUANTS if q != "q8_0")]
    kq = [(q if kquants.available() else t("export_needs_llama_cpp", lang, quant=q), q) for q in K_QUANTS]
    return [(q, q) for q in native] + kq


def check_lines(check: dict[str, Any] | None, lang: str) -> list[str]:
    if not check:
        return []
    if check["ok"]:
        lines = [t("export_verified", lang, identical=check["identical"], prompts=check["prompts"],
                   reader=check["reader"], agreement=f"{check['agreement']:.0%}")]
        return lines + [f"- {p}" for p in check.get("problems", [])]
    return [t("export_check_failed", lang, reader=check["reader"], problems="; ".join(check.get("problems", [])))]


@gradio_errors(in_page=True)
def start_export(ctx: AppContext, widgets: ExportWidgets, lang: str, run_id: str, token: str, *values: Any
                 ) -> list[Any]:
    if not run_id:
        raise gr.Error(t("export_no_run", lang))
    chosen = widgets.read(values)
    chosen["shard_size"] = chosen["shard_size"] or "2GB"
    job_id = ctx.door.export(ExportRequest(run_id, **chosen), token or "")
    return [job_id, gr.Timer(active=True), bar_html("export-bar", 0.0, "…", "running"), ""]


def export_tick(ctx: AppContext, job_id: str, lang: str) -> list[Any]:
    if not job_id:
        return [gr.Timer(active=False), gr.update(), gr.update()]
    current = ctx.door.exporter.jobs.get(job_id)
    text = current.error_text(lang) or current.message or current.state
    html = bar_html("export-bar", current.progress, text, current.state)
    if current.state == "running":
        return [gr.Timer(active=True), html, gr.update()]
    if current.state != "done":
        return [gr.Timer(active=False), html, gr.update()]
    r = current.result
    lines = [t("export_done", lang, folder=r["folder"], size=r["size_gb"], seconds=r["seconds"])]
    lines += check_lines(r.get("check"), lang)
    if r.get("note"):
        lines.append(f"⚠️ {render(r['note'], lang)}")
    if r.get("gguf"):
        lines.append(t("export_ollama", lang, folder=r["folder"]))
    if r.get("pushed"):
        lines.append(f"⬆️ {r['pushed']}")
    return [gr.Timer(active=False), html, "\n\n".join(lines)]
