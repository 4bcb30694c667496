"""Plotly figures for the live view, built from metric events and hardware samples."""

from __future__ import annotations

import time
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tabs.i18n import t

LAYOUT = {"height": 300, "margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "template": "plotly_white",
          "legend": {"orientation": "h", "y": -0.2}}


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    """TensorBoard-style exponential moving average, debiased so the first points are not pulled to 0."""
    out, last = [], 0.0
    for n, v in enumerate(values, 1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


def _series(metrics: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(m["step"], m[key]) for m in metrics if m.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def loss_figure(metrics: list[dict[str, Any]], lang: str) -> go.Figure:
    fig = go.Figure()
    steps, loss = _series(metrics, "loss")
    fig.add_scatter(x=steps, y=loss, mode="lines", name=t("chart_train", lang), line={"color": "#9ecae1"})
    if len(loss) > 2:
        fig.add_scatter(x=steps, y=smooth(loss), mode="lines", name=t("chart_smooth", lang), line={"color": "#08519c"})
    eval_steps, eval_loss = _series(metrics, "eval_loss")
    if eval_loss:
        _, ppl = _series(metrics, "eval_perplexity")
        hover = [f"perplexity {p:.3g}" for p in ppl] if len(ppl) == len(eval_loss) else None
        fig.add_scatter(x=eval_steps, y=eval_loss, mode="lines+markers", name=t("chart_eval", lang),
                        line={"color": "#e6550d"}, hovertext=hover)
    fig.update_layout(title=t("chart_loss", lang), xaxis_title=t("step", lang), **LAYOUT)
    return fig


def training_figure(metrics: list[dict[str, Any]], lang: str) -> go.Figure:
    keys = (("lr", "chart_lr"), ("grad_norm", "chart_grad"), ("tokens_per_s", "chart_tps"))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t(k, lang) for _, k in keys])
    for col, (key, label) in enumerate(keys, 1):
        steps, values = _series(metrics, key)
        fig.add_scatter(x=steps, y=values, mode="lines", name=t(label, lang), row=1, col=col, showlegend=False)
    fig.update_layout(**{**LAYOUT, "height": 260})
    return fig


def hardware_figure(samples: list[dict[str, Any]], lang: str) -> go.Figure:
    now = time.time()
    x = [round(s["time"] - now, 1) for s in samples]
    gpus = samples[-1]["gpus"] if samples else []
    if gpus:
        titles = [t(k, lang, i="").replace("GPU  ", "") for k in ("chart_gpu_util", "chart_gpu_mem", "chart_gpu_temp",
                                                                      "chart_gpu_power")]
        fig = make_subplots(rows=1, cols=4, subplot_titles=titles)
        for gpu in gpus:
            i = gpu["index"]
            for col, (key, label) in enumerate((("util", "chart_gpu_util"), ("mem_used_gb", "chart_gpu_mem"),
                                                ("temp_c", "chart_gpu_temp"), ("power_w", "chart_gpu_power")), 1):
                values = [next((g.get(key) for g in s["gpus"] if g["index"] == i), None) for s in samples]
                fig.add_scatter(x=x, y=values, mode="lines", name=t(label, lang, i=i), row=1, col=col)
            total = gpu.get("mem_total_gb")
            if total:
                fig.update_yaxes(range=[0, total], row=1, col=2)
    else:
        fig = make_subplots(rows=1, cols=2, subplot_titles=[t("chart_cpu", lang), t("chart_ram", lang)])
        fig.add_scatter(x=x, y=[s["cpu_percent"] for s in samples], mode="lines", name=t("chart_cpu", lang),
                        row=1, col=1)
        fig.add_scatter(x=x, y=[s["ram_used_gb"] for s in samples], mode="lines", name=t("chart_ram", lang),
                        row=1, col=2)
        fig.update_yaxes(range=[0, 100], row=1, col=1)
        if samples:
            fig.update_yaxes(range=[0, samples[-1]["ram_total_gb"]], row=1, col=2)
    fig.update_layout(title=t("chart_hw", lang), **{**LAYOUT, "height": 260})
    fig.update_xaxes(title_text="s")
    return fig
