"""The Train tab's Compare runs panel: tick runs, see their curves overlaid, their losses and report
scores side by side, and the settings that differ (engine/runs/compare.py does the reading)."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
import pandas as pd

from engine.errors import RunError
from engine.runs.rundir import loss_text
from tabs.charts import runs_figure
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.translate import Translator

SUMMARY_COLUMNS = ("col_run", "col_state", "col_method", "col_loss", "col_best_eval", "col_scores")


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> None:
    with gr.Accordion(t("compare_runs", tr.lang), open=False, elem_id="compare-runs") as panel:
        with gr.Row():
            picked = tr.label(gr.Dropdown(choices=[], multiselect=True, label=t("compare_pick", tr.lang),
                                          elem_id="compare-pick", scale=4), "compare_pick")
            by = gr.Radio([(t("by_step", tr.lang), "step"), (t("by_tokens", tr.lang), "tokens")], value="step",
                          label=t("compare_by", tr.lang), elem_id="compare-by", scale=2)
            tr.add(by, lambda lang: {"label": t("compare_by", lang),
                                     "choices": [(t("by_step", lang), "step"), (t("by_tokens", lang), "tokens")]})
            go = tr.button("compare_go", variant="primary", elem_id="compare-go", scale=1, min_width=100)
        note = gr.Markdown(t("compare_hint", tr.lang), elem_id="compare-note")
        plot = gr.Plot(elem_id="compare-plot", show_label=False, visible=False)
        summary = tr.label(gr.Dataframe(label=t("compare_summary", tr.lang), interactive=False, wrap=True,
                                        elem_id="compare-summary", visible=False), "compare_summary")
        diff = tr.label(gr.Dataframe(label=t("compare_diff", tr.lang), interactive=False, wrap=True,
                                     elem_id="compare-diff", visible=False), "compare_diff")
    tr.label(panel, "compare_runs")
    outputs = [note, plot, summary, diff]
    panel.expand(lambda: gr.update(choices=_run_ids(ctx)), [], picked, show_progress="hidden")
    go.click(lambda ids, axis, lang: _compare(ctx, ids, axis, lang), [picked, by, lang_state], outputs)
    # a new axis or language redraws a comparison already shown; nothing to redraw is no error
    for event in (by.change, lang_state.change):
        event(lambda ids, axis, lang: _compare(ctx, ids, axis, lang) if len(ids or []) > 1
              else [gr.skip()] * len(outputs), [picked, by, lang_state], outputs, show_progress="hidden")
    ctx.on_load.append((lambda: gr.update(choices=_run_ids(ctx)), [], [picked]))


def _run_ids(ctx: AppContext) -> list[str]:
    return [run["run_id"] for run in ctx.door.manager.list_runs()]


@gradio_errors(in_page=True)
def _compare(ctx: AppContext, ids: list[str] | None, by: str, lang: str) -> list[Any]:
    if len(ids or []) < 2:
        raise RunError(t("compare_hint", lang))
    result = ctx.door.manager.compare(list(ids or []))
    frame = summary_frame(result, lang)
    changes = diff_frame(result, lang)
    return [t("compare_same", lang) if changes is None else "",
            gr.update(value=runs_figure(result, by, lang), visible=True), gr.update(value=frame, visible=True),
            gr.update(value=changes, visible=changes is not None)]


def summary_frame(result: dict[str, Any], lang: str) -> pd.DataFrame:
    rows = []
    for run in result["runs"]:
        best = (f"{loss_text(run['best_eval_loss'])} ({run['best_eval_step']})" if run["best_eval_loss"] is not None
                else "–")
        scores = ", ".join(f"{key} {value}" for key, value in run["scores"].items()) or "–"
        rows.append([run["run_id"], run["state"], run["method"], loss_text(run["final_loss"]), best, scores])
    return pd.DataFrame(rows, columns=[t(c, lang) for c in SUMMARY_COLUMNS])


def diff_frame(result: dict[str, Any], lang: str) -> pd.DataFrame | None:
    """One row per differing setting, one column per run; None when nothing differs."""
    if not result["differences"]:
        return None
    ids = [run["run_id"] for run in result["runs"]]
    rows = [[d["field"], *(json.dumps(d["values"][i], ensure_ascii=False) for i in ids)] for d in result["differences"]]
    return pd.DataFrame(rows, columns=[t("col_field", lang), *ids])
