"""The Model Hub tab: search and download (model_hub_search.py), the curated catalogue with each
model's memory on this machine, every model on disk with its size (delete, register a local folder),
and a model's structure. All work is done by `engine.hub` and `engine.sizing`; this file lays out
widgets and calls them."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from engine.hub.disk import list_models
from engine.sizing.catalog import CATALOG
from engine.sizing.fit import catalog_table
from tabs import model_hub_search
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.translate import Translator
from tabs.widgets import PRIVATE

MARK = {"fits": "✅", "tight": "⚠️", "does not fit": "❌"}
VERDICT_KEYS = {"fits": "fit_fits", "tight": "fit_tight", "does not fit": "fit_does_not_fit"}


def verdict_cell(verdict: str, lang: str) -> str:
    return f"{MARK[verdict]} {t(VERDICT_KEYS[verdict], lang)}"


def catalog_frame(rows: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    return pd.DataFrame([[r["model"], r["params_b"], r["context"], r["memory_gb"], verdict_cell(r["verdict"], lang),
                          r["licence"],
                          r["hf_id"], r["ms_id"]] for r in rows],
                        columns=[t("hub_col_id", lang), "B", t("hub_col_ctx", lang), t("hub_col_mem", lang),
                                 t("hub_col_fit", lang), t("hub_col_licence", lang), "Hugging Face", "ModelScope"])


def disk_frame(models: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    return pd.DataFrame([[m["source"], m["id"], m["size_gb"], m["folder"]] for m in models],
                        columns=[t(k, lang) for k in ("hub_col_source", "hub_col_id", "hub_col_size",
                                                      "hub_col_folder")])


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> gr.Timer:
    """Returns the download progress timer (the app runs it only while this tab is open)."""
    timer, finished = model_hub_search.build(ctx, tr, lang_state)
    tr.text(gr.Markdown(t("hub_catalog_head", tr.lang)), "hub_catalog_head")
    with gr.Row():
        method = tr.label(gr.Dropdown(["lora", "qlora4", "qlora8", "full"], value="lora",
                                      label=t("hub_method", tr.lang), elem_id="hub-method"), "hub_method")
        length = tr.label(gr.Number(1024, label=t("hub_len", tr.lang), precision=0, minimum=16), "hub_len")
        batch = tr.label(gr.Number(1, label=t("hub_batch", tr.lang), precision=0, minimum=1), "hub_batch")
        fits_only = tr.label(gr.Checkbox(False, label=t("hub_fits_only", tr.lang), elem_id="hub-fits-only"),
                             "hub_fits_only")
    catalog = tr.label(gr.Dataframe(catalog_frame(catalog_table(), tr.lang), label=t("hub_catalog", tr.lang),
                                    interactive=False, wrap=True, elem_id="hub-catalog"), "hub_catalog")
    with gr.Row():
        refresh = tr.button("hub_refresh", elem_id="hub-refresh", scale=0, min_width=120)
        message = gr.Markdown(elem_id="hub-message")
    disk = tr.label(gr.Dataframe(label=t("hub_on_disk", tr.lang), interactive=False, wrap=True,
                                 elem_id="hub-disk"), "hub_on_disk")
    with gr.Row():
        pick = tr.label(gr.Dropdown(choices=[], label=t("hub_pick", tr.lang), elem_id="hub-pick", scale=3),
                        "hub_pick")
        with_files = tr.label(gr.Checkbox(False, label=t("hub_delete_files", tr.lang)), "hub_delete_files")
        delete_btn = tr.button("hub_delete", elem_id="hub-delete", scale=0, min_width=120)
        confirm = tr.button("hub_confirm", variant="stop", visible=False, elem_id="hub-confirm", scale=0,
                            min_width=140)
    with gr.Row():
        path = tr.label(gr.Textbox(label=t("hub_register_path", tr.lang), elem_id="hub-register-path", scale=4),
                        "hub_register_path")
        register_btn = tr.button("hub_register", elem_id="hub-register", scale=0, min_width=120)
    with gr.Accordion(t("hub_structure", tr.lang), open=False) as structure_acc:
        with gr.Row():
            which = tr.label(gr.Dropdown([m.name for m in CATALOG], value=CATALOG[0].name, allow_custom_value=True,
                                         label=t("hub_structure_model", tr.lang), elem_id="hub-structure-model",
                                         scale=4), "hub_structure_model")
            show_btn = tr.button("hub_show_structure", elem_id="hub-show-structure", scale=0, min_width=160)
        facts = gr.Markdown(elem_id="hub-structure-facts")
        treemap = gr.Plot(elem_id="hub-treemap", show_label=False)
        tree = gr.Code(language="python", interactive=False, elem_id="hub-tree", max_lines=40)
    tr.label(structure_acc, "hub_structure")
    show_btn.click(lambda model, lang: show_structure(ctx, model, lang), [which, lang_state], [facts, treemap, tree],
                   **PRIVATE)
    for widget in (method, length, batch, fits_only):
        widget.change(catalog_view, [method, length, batch, fits_only, lang_state], catalog, **PRIVATE)
    refresh.click(models_on_disk, lang_state, [disk, pick], **PRIVATE)
    ctx.on_load.append((models_on_disk, [lang_state], [disk, pick]))
    finished.change(models_on_disk, lang_state, [disk, pick], **PRIVATE)
    delete_btn.click(lambda chosen: gr.update(visible=bool(chosen)), pick, confirm, **PRIVATE)
    confirm.click(lambda chosen, files, lang: delete_model(ctx, chosen, files, lang), [pick, with_files, lang_state],
                  [message, confirm, disk, pick], **PRIVATE)
    register_btn.click(lambda folder, lang: register_model(ctx, folder, lang), [path, lang_state],
                       [message, disk, pick], **PRIVATE)
    return timer


in_page = gradio_errors(in_page=True)


@in_page
def show_structure(ctx: AppContext, model: str, lang: str) -> list[Any]:
    r = ctx.door.model_structure(model)
    text = t("hub_structure_facts", lang, arch=r["architecture"], params=f"{r['params']:,}", layers=r["layers"],
             hidden=r["hidden"], heads=r["heads"], kv=r["kv_heads"], vocab=f"{r['vocab']:,}",
             context=f"{r['context']:,}" if r["context"] else "?")
    m = r["treemap"]
    figure = go.Figure(go.Treemap(ids=m["ids"], labels=m["labels"], parents=m["parents"], values=m["values"],
                                  branchvalues="total", maxdepth=3))
    figure.update_layout(height=520, margin={"l": 4, "r": 4, "t": 30, "b": 4}, title=t("hub_structure_title", lang))
    return [text, figure, r["tree"]]


def catalog_view(method: str, max_len: Any, batch: Any, fits_only: bool, lang: str) -> pd.DataFrame:
    return catalog_frame(catalog_table(method, int(max_len or 1024), int(batch or 1), bool(fits_only)), lang)


def models_on_disk(lang: str) -> list[Any]:
    models = list_models()
    deletable = [(f"{m['source']}: {m['id']} ({m['size_gb']} GiB)", m["folder"]) for m in models
                 if m["source"] != "bundled"]
    return [disk_frame(models, lang), gr.update(choices=deletable, value=None)]


@in_page
def delete_model(ctx: AppContext, chosen: str, files: bool, lang: str) -> list[Any]:
    text = ctx.door.delete_model(chosen, bool(files))
    return [text, gr.update(visible=False), *models_on_disk(lang)]


@in_page
def register_model(ctx: AppContext, folder: str, lang: str) -> list[Any]:
    info = ctx.door.register_model(folder)
    return [t("hub_registered", lang, path=info["folder"], size=info["size_gb"]), *models_on_disk(lang)]
