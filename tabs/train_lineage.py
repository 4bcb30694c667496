"""The Train tab's Lineage panel: where the selected run came from and what came out of it — the engine's
lineage graph (engine/runs/lineage_graph.py) drawn left to right (sources → run → checkpoints → exports),
each node's facts on hover, and the same graph as an indented tree to read or copy."""

from __future__ import annotations

from typing import Any

import gradio as gr
import plotly.graph_objects as go

from engine.errors import RunError
from engine.runs.lineage_graph import lineage_lines, node_depths, node_facts
from tabs.context import AppContext
from tabs.i18n import t
from tabs.translate import Translator

KINDS = ("base", "dataset", "run", "checkpoint", "export", "adapter")
KIND_STYLE = {"base": ("#2171b5", "square"), "dataset": ("#6a51a3", "diamond"), "run": ("#238b45", "circle"),
              "checkpoint": ("#74c476", "circle-open"), "export": ("#d94801", "star"),
              "adapter": ("#737373", "triangle-up")}


def build(ctx: AppContext, tr: Translator, lang_state: gr.State, selected: gr.Dropdown) -> None:
    with gr.Accordion(t("lineage", tr.lang), open=False, elem_id="lineage") as panel:
        plot = gr.Plot(show_label=False, elem_id="lineage-plot", visible=False)
        view = gr.Markdown(t("lineage_none", tr.lang), elem_id="lineage-view")
    tr.label(panel, "lineage")
    for event in (panel.expand, selected.change):
        event(lambda run_id, lang: _show(ctx, run_id, lang), [selected, lang_state], [plot, view],
              show_progress="hidden")


def _show(ctx: AppContext, run_id: str | None, lang: str) -> tuple[Any, str]:
    if not run_id:
        return gr.update(visible=False), t("lineage_none", lang)
    try:
        graph = ctx.door.manager.lineage(run_id)
    except RunError as exc:
        return gr.update(visible=False), f"⚠️ {exc}"
    if not graph["lineage"]:
        return gr.update(visible=False), t("lineage_missing", lang, run_id=run_id)
    kinds = {kind: t(f"node_{kind}", lang) for kind in KINDS}
    return gr.update(value=lineage_figure(graph, kinds), visible=True), "\n".join(lineage_lines(graph, kinds))


def lineage_figure(graph: dict[str, Any], kinds: dict[str, str]) -> go.Figure:
    """One column per step away from the sources, one marker per node (a trace per kind, so the legend
    names the kinds), an arrow per edge; the selected run's marker is drawn larger."""
    depth, _ = node_depths(graph)
    rows: dict[int, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for node in graph["nodes"]:
        column = depth[node["id"]]
        where[node["id"]] = (column, rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    tallest = max(rows.values(), default=1)

    def xy(node_id: str) -> tuple[float, float]:
        column, row = where[node_id]
        return column, (tallest - 1) / 2 - row + (rows[column] - 1) / 2  # each column centred

    fig = go.Figure()
    for edge in graph["edges"]:
        (x0, y0), (x1, y1) = xy(edge["from"]), xy(edge["to"])
        fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowsize=1.2, arrowwidth=1.2, arrowcolor="#9e9e9e", standoff=12,
                           startstandoff=12, text="")
    me = f"run:{graph['run_id']}"
    for kind in KINDS:
        nodes = [n for n in graph["nodes"] if n["kind"] == kind]
        if not nodes:
            continue
        color, symbol = KIND_STYLE[kind]
        points = [xy(n["id"]) for n in nodes]
        fig.add_scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers+text", name=kinds[kind],
                        text=[_short_label(n["label"]) for n in nodes], customdata=[n["id"] for n in nodes],
                        textposition="bottom center",
                        hovertext=[f"<b>{kinds[kind]} {n['label']}</b><br>" + node_facts(n).replace(", ", "<br>")
                                   for n in nodes], hoverinfo="text",
                        marker={"color": color, "symbol": symbol, "line": {"width": 2, "color": color},
                                "size": [26 if n["id"] == me else 18 for n in nodes]})
    columns = max(rows, default=0)
    fig.update_xaxes(visible=False, range=[-0.5, columns + 0.5])
    fig.update_yaxes(visible=False, range=[-0.8, tallest - 0.2])
    fig.update_layout(height=140 + 70 * tallest, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      template="plotly_white", legend={"orientation": "h", "y": -0.05}, hovermode="closest")
    return fig


def _short_label(label: str) -> str:
    """Base models and datasets are often long paths: their last part, as a user names them."""
    tail = label.rstrip("/").rsplit("/", 1)[-1]
    return tail if len(tail) <= 28 else tail[:27] + "…"
