"""The Environment tab: this machine's CPU, memory, disks and GPUs, the dependency matrix, readiness
checks and a report to paste into a bug report. All facts come from `engine.env`; the live chart is
the app's one shared HardwareMonitor, polled only while this tab is open."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.text.message import render
from tabs.charts import LAYOUT, hardware_figure
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.translate import Translator
from tabs.widgets import PRIVATE

LIVE_S = 1.0


def machine_markdown(report: dict[str, Any], lang: str) -> str:
    sw, cpu, mem, gpu = report["software"], report["cpu"], report["memory"], report["gpu"]
    flags = ", ".join(f"{f} {'✓' if on else '✗'}" for f, on in cpu["flags"].items()) or "?"
    driver = f" · NVIDIA driver {gpu['driver']} (CUDA {gpu['cuda_driver']})" if gpu.get("driver") else ""
    lines = [t("env_cpu", lang, model=cpu["model"], cores=cpu["cores_physical"], threads=cpu["cores_logical"],
               flags=flags),
             t("env_ram", lang, total=mem["total_gb"], free=mem["available_gb"]),
             t("env_soft", lang, os=sw["os"], python=sw["python"], torch=sw.get("torch"),
               cuda=sw.get("torch_cuda_build") or "–", cudnn=sw.get("cudnn") or "–", driver=driver)]
    if gpu["gpus"]:
        for g in gpu["gpus"]:
            lines.append(t("env_gpu", lang, index=g["index"], name=g["name"], mem=g.get("mem_total_gb", "?"),
                           cc=g.get("compute_capability", "?"), bf16="✓" if g.get("bf16") else "✗",
                           util=g.get("util", "?"), temp=g.get("temp_c", "?"), power=round(g.get("power_w", 0))))
    else:
        lines.append(t("env_no_gpu", lang, note=render(gpu.get("note_text") or gpu["note"], lang)))
    return "\n\n".join(lines)


def rings_figure(report: dict[str, Any], lang: str) -> go.Figure:
    """Ring charts: RAM, then each disk TuneDesk writes to (outputs, caches)."""
    rings = [("RAM", report["memory"]["total_gb"] - report["memory"]["available_gb"],
              report["memory"]["available_gb"])]
    seen = set()
    for d in report["disks"]:
        key = (d["total_gb"], d["free_gb"])
        label = d["what"] if key not in seen else None
        seen.add(key)
        if label:
            rings.append((label, d["total_gb"] - d["free_gb"], d["free_gb"]))
    fig = make_subplots(rows=1, cols=len(rings), specs=[[{"type": "domain"}] * len(rings)],
                        subplot_titles=[f"{name}<br>{free:.0f} GiB {t('env_free', lang)}" for name, _, free in rings])
    for col, (_, used, free) in enumerate(rings, 1):
        fig.add_trace(go.Pie(values=[used, free], labels=[t("env_used", lang), t("env_free", lang)], hole=0.6,
                             sort=False, marker={"colors": ["#3182bd", "#e5e5e5"]}, textinfo="percent",
                             showlegend=col == 1), row=1, col=col)
    fig.update_layout(**{**LAYOUT, "height": 250, "margin": {"l": 20, "r": 20, "t": 60, "b": 20}})
    return fig


def readiness_frame(report: dict[str, Any], lang: str) -> pd.DataFrame:
    mark = {True: "✅", False: "❌", None: "–"}
    return pd.DataFrame([[render(c.get("check_text") or c["check"], lang), mark[c["ok"]],
                          render(c.get("reason_text") or c["reason"], lang)] for c in report["readiness"]],
                        columns=[t("env_col_check", lang), t("env_col_ok", lang), t("env_col_why", lang)])


def can_train_frame(report: dict[str, Any], lang: str) -> pd.DataFrame:
    mark = {"fits": "✅", "tight": "⚠️", "does not fit": "❌"}
    rows = [[r["model"], r["params_b"], *(f"{mark[r[m]['verdict']]} {r[m]['gb']} GiB" for m in ("full", "lora",
                                                                                                 "qlora4")),
             render(r["plan"]["text"], lang) if r.get("plan") else "❌"]
            for r in report["can_train"]]
    return pd.DataFrame(rows, columns=[t("env_col_model", lang), t("env_col_params", lang), "full", "LoRA", "QLoRA-4",
                                       t("env_col_plan", lang)])


def deps_frame(report: dict[str, Any], lang: str) -> pd.DataFrame:
    mark = {"ok": "✅ OK", "warning": "⚠️", "missing": "❌"}
    return pd.DataFrame([[d["package"], d["required"], d["installed"] or "–", mark[d["status"]], d["fix"]]
                         for d in report["dependencies"]],
                        columns=[t(k, lang) for k in ("env_col_pkg", "env_col_req", "env_col_inst", "env_col_status",
                                                      "env_col_fix")])


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> gr.Timer:
    """Returns the live chart's timer, which the app switches on only while this tab is shown."""
    with gr.Row():
        refresh = tr.button("env_refresh", elem_id="env-refresh", scale=0, size="sm", min_width=220)
        status = gr.Markdown(elem_id="env-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            machine = gr.Markdown(elem_id="env-machine")
        with gr.Column(scale=1):
            rings = gr.Plot(elem_id="env-rings", show_label=False)
    live = gr.Plot(elem_id="env-live", show_label=False)
    readiness = tr.label(gr.Dataframe(label=t("env_readiness", tr.lang), interactive=False, wrap=True,
                                      elem_id="env-readiness"), "env_readiness")
    can_train = tr.label(gr.Dataframe(label=t("env_can_train", tr.lang), interactive=False, wrap=True,
                                      elem_id="env-can-train", max_height=420), "env_can_train")
    with gr.Accordion(t("env_deps", tr.lang), open=False) as deps_acc:
        deps = gr.Dataframe(interactive=False, wrap=True, elem_id="env-deps")
    tr.label(deps_acc, "env_deps")
    with gr.Accordion(t("env_report", tr.lang), open=False) as report_acc:
        report_md = gr.Code(language="markdown", interactive=False, elem_id="env-report")
    tr.label(report_acc, "env_report")
    timer = gr.Timer(LIVE_S, active=False)
    outputs = [machine, rings, readiness, can_train, deps, report_md, status]

    def show(report: dict[str, Any], lang: str) -> list[Any]:
        return [machine_markdown(report, lang), rings_figure(report, lang), readiness_frame(report, lang),
                can_train_frame(report, lang), deps_frame(report, lang), report["markdown"], ""]

    @gradio_errors(in_page=True)
    def on_refresh(lang: str) -> list[Any]:
        return show(ctx.environment.refresh(), lang)

    def on_open(lang: str) -> list[Any]:
        return show(ctx.environment.current(), lang)

    refresh.click(lambda lang: [gr.skip()] * 6 + [t("env_checking", lang)], lang_state, outputs, **PRIVATE).then(
        on_refresh, lang_state, outputs, **PRIVATE)
    ctx.on_tab_open["env"] = (on_open, [lang_state], outputs)
    lang_state.change(lambda lang: show(ctx.environment.last, lang) if ctx.environment.last else [gr.skip()] * 7,
                      lang_state, outputs, **PRIVATE)
    timer.tick(lambda lang: hardware_figure(ctx.monitor.snapshot()[-120:], lang), lang_state, live, **PRIVATE)
    return timer
