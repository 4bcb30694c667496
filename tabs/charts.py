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


def gradient_figure(metrics: list[dict[str, Any]], lang: str) -> go.Figure | None:
    """Gradient flow: one row per block, one column per logged step, coloured by log10 of the norm (a
    vanishing layer is dark, an exploding one bright); None before any step logged its norms."""
    import math

    events = [m for m in metrics if m.get("grad_norms")]
    if not events:
        return None
    blocks = list(dict.fromkeys(block for m in events for block in m["grad_norms"]))
    steps = [m["step"] for m in events]
    values = [[m["grad_norms"].get(block) for m in events] for block in blocks]
    z = [[math.log10(v) if v else None for v in row] for row in values]
    fig = go.Figure(go.Heatmap(x=steps, y=blocks, z=z, customdata=values, colorscale="Viridis",
                               colorbar={"title": "log10"},
                               hovertemplate="%{y}, step %{x}: %{customdata:.3g}<extra></extra>"))
    fig.update_layout(**{**LAYOUT, "height": max(260, 60 + 18 * len(blocks))}, title=t("chart_grad_flow", lang),
                      xaxis_title=t("step", lang))
    fig.update_yaxes(autorange="reversed")  # the embeddings on top, the output layer at the bottom
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


def reward_figure(metrics: list[dict[str, Any]], lang: str) -> go.Figure | None:
    """GRPO: each reward and the weighted total with its spread, KL, completion length. DPO / KTO: the
    implicit rewards of chosen and rejected answers, and KL or accuracy. None when the run logs none."""
    keys = set().union(*metrics) if metrics else set()
    if "reward" in keys:
        return _grpo_figure(metrics, keys, lang)
    if {"rewards_chosen", "rewards_rejected"} & keys:
        return _preference_figure(metrics, keys, lang)
    return None


def _grpo_figure(metrics: list[dict[str, Any]], keys: set[str], lang: str) -> go.Figure:
    titles = [t("chart_rewards", lang), t("chart_kl", lang), t("chart_completion_len", lang)]
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles, column_widths=[0.5, 0.25, 0.25])
    steps, total = _series(metrics, "reward")
    _, spread = _series(metrics, "reward_std")
    if len(spread) == len(total):
        upper = [m + s for m, s in zip(total, spread, strict=True)]
        lower = [m - s for m, s in zip(total, spread, strict=True)]
        fig.add_scatter(x=steps + steps[::-1], y=upper + lower[::-1], mode="lines", fill="toself",
                        fillcolor="rgba(8,81,156,0.12)",
                        line={"width": 0}, hoverinfo="skip", showlegend=False, row=1, col=1)
    fig.add_scatter(x=steps, y=total, mode="lines", name=t("chart_reward_total", lang), line={"color": "#08519c",
                                                                                            "width": 3}, row=1, col=1)
    for key in sorted(k for k in keys if k.startswith("rewards_") and k.endswith("_mean")):
        s, v = _series(metrics, key)
        fig.add_scatter(x=s, y=v, mode="lines", name=key[len("rewards_"):-len("_mean")], row=1, col=1)
    for col, key in ((2, "kl"), (3, "completions_mean_length")):
        s, v = _series(metrics, key)
        fig.add_scatter(x=s, y=v, mode="lines", showlegend=False, line={"color": "#636363"}, row=1, col=col)
    fig.update_layout(**{**LAYOUT, "height": 280})
    return fig


def _preference_figure(metrics: list[dict[str, Any]], keys: set[str], lang: str) -> go.Figure:
    side = ("kl", "chart_kl") if "kl" in keys else ("rewards_accuracies", "chart_accuracy")
    fig = make_subplots(rows=1, cols=2, subplot_titles=[t("chart_pref_rewards", lang), t(side[1], lang)],
                        column_widths=[0.65, 0.35])
    for key, label, color in (("rewards_chosen", "chart_chosen", "#31a354"), ("rewards_rejected", "chart_rejected",
                                                                               "#de2d26"),
                              ("rewards_margins", "chart_margin", "#08519c")):
        s, v = _series(metrics, key)
        if v:
            fig.add_scatter(x=s, y=v, mode="lines", name=t(label, lang), line={"color": color}, row=1, col=1)
    s, v = _series(metrics, side[0])
    fig.add_scatter(x=s, y=v, mode="lines", showlegend=False, line={"color": "#636363"}, row=1, col=2)
    fig.update_layout(**{**LAYOUT, "height": 280})
    return fig


# the curves of a run comparison, one panel each, and the metric each panel reads
COMPARE_PANELS = (("loss", "chart_loss"), ("eval_loss", "chart_eval_loss"), ("lr", "chart_lr"),
                  ("reward", "chart_reward"))
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def _reward_curve(curves: dict[str, Any]) -> dict[str, Any] | None:
    """GRPO logs a mean reward; the preference methods log the chosen-minus-rejected margin."""
    return curves.get("reward") or curves.get("rewards_margins")


def runs_figure(result: dict[str, Any], by: str, lang: str) -> go.Figure:
    """The runs of a comparison overlaid on shared axes, `by` step or by tokens seen; one colour per run,
    one panel per curve that some run has (eval loss only with a validation split, reward only for GRPO
    and the preference methods)."""

    def curve(run: dict[str, Any], key: str) -> dict[str, Any] | None:
        return _reward_curve(run["curves"]) if key == "reward" else run["curves"].get(key)

    panels = [(key, label) for key, label in COMPARE_PANELS if any(curve(run, key) for run in result["runs"])]
    rows = max(1, (len(panels) + 1) // 2)
    fig = make_subplots(rows=rows, cols=2 if len(panels) > 1 else 1, subplot_titles=[t(k, lang) for _, k in panels],
                        horizontal_spacing=0.1, vertical_spacing=0.25 / rows)
    for n, run in enumerate(result["runs"]):
        color, in_legend = COLORS[n % len(COLORS)], False
        for i, (key, _) in enumerate(panels):
            points = curve(run, key)
            if not points:
                continue
            x = points["tokens"] if by == "tokens" else points["step"]
            pairs = [(a, b) for a, b in zip(x, points["value"], strict=True) if a is not None]
            fig.add_scatter(x=[p[0] for p in pairs], y=[p[1] for p in pairs], row=i // 2 + 1, col=i % 2 + 1,
                            mode="lines+markers" if key == "eval_loss" else "lines", name=run["run_id"],
                            legendgroup=run["run_id"], showlegend=not in_legend, line={"color": color})
            in_legend = True  # each run once in the legend, on its first curve
    fig.update_xaxes(title_text=t("tokens_seen" if by == "tokens" else "step", lang))
    fig.update_layout(**{**LAYOUT, "height": 120 + 260 * rows, "legend": {"orientation": "h", "y": -0.3 / rows}})
    return fig
