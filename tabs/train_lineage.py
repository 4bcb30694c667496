"""The Train tab's Lineage panel: where the selected run came from and what came out of it, as the engine's
lineage graph (engine/runs/lineage_graph.py) drawn as an indented tree."""

from __future__ import annotations

import gradio as gr

from engine.errors import RunError
from engine.runs.lineage_graph import lineage_lines
from tabs.context import AppContext
from tabs.i18n import t
from tabs.translate import Translator

KINDS = ("base", "dataset", "run", "checkpoint", "export", "adapter")


def build(ctx: AppContext, tr: Translator, lang_state: gr.State, selected: gr.Dropdown) -> None:
    with gr.Accordion(t("lineage", tr.lang), open=False, elem_id="lineage") as panel:
        view = gr.Markdown(t("lineage_none", tr.lang), elem_id="lineage-view")
    tr.label(panel, "lineage")
    for event in (panel.expand, selected.change):
        event(lambda run_id, lang: lineage_markdown(ctx, run_id, lang), [selected, lang_state], view,
              show_progress="hidden")


def lineage_markdown(ctx: AppContext, run_id: str | None, lang: str) -> str:
    if not run_id:
        return t("lineage_none", lang)
    try:
        graph = ctx.door.manager.lineage(run_id)
    except RunError as exc:
        return f"⚠️ {exc}"
    if not graph["lineage"]:
        return t("lineage_missing", lang, run_id=run_id)
    kinds = {kind: t(f"node_{kind}", lang) for kind in KINDS}
    return "\n".join(lineage_lines(graph, kinds))
