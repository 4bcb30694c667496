"""How the Dataset Explorer shows engine results: summary text, the token-length histogram, the bad-row
table and the token-level preview (trained tokens highlighted, masked ones greyed, cut ones struck)."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from engine.text.message import render
from tabs.charts import LAYOUT
from tabs.i18n import t

PREVIEW_CSS = """
.td-prev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;line-height:1.7;white-space:pre-wrap;
 word-break:break-word;border:1px solid #ddd;border-radius:6px;padding:8px;margin:4px 0 10px}
.td-t{background:#c7f0d2;color:#05361a;border-radius:2px}
.td-m{color:#8a8a8a}
.td-c{color:#c0392b;text-decoration:line-through;background:#fdecea}
.td-err{color:#b00020;font-weight:600}
.td-row{margin-bottom:14px}
.td-head{font-weight:600;margin:6px 0 2px}
.td-prev span.td-nl{color:#bbb}
"""


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def summary_markdown(stats: dict[str, Any], model: str, lang: str) -> str:
    why = [render(r, lang) for r in stats.get("reasons") or []] or stats["evidence"]
    lines = [t("data_sum_format", lang, fmt=stats["format"], evidence=("；" if lang == "zh" else "; ").join(why)),
             t("data_sum_rows", lang, rows=f"{stats['rows']:,}", usable=f"{stats['usable']:,}",
               bad=f"{stats['bad_count']:,}", secs=stats["seconds"])]
    if stats.get("mix"):
        parts = [t("data_sum_mix_part", lang, name=f"`{m['dataset']}`", share=_pct(m["share"]), used=f"{m['used']:,}",
                   rows=f"{m['rows']:,}") for m in stats["mix"]]
        lines.append(t("data_sum_mix", lang, strategy=stats.get("mix_strategy") or "concat",
                       parts=("；" if lang == "zh" else "; ").join(parts)))
    if stats["columns"]:
        lines.append(t("data_sum_columns", lang, cols=", ".join(f"`{c}`" for c in stats["columns"][:20])))
    if len(stats["splits"]) > 1 or set(stats["splits"]) - {"train"}:
        lines.append(t("data_sum_splits", lang, splits=", ".join(f"{k} {v:,}" for k, v in stats["splits"].items())))
    lines.append(t("data_sum_dups", lang, exact=f"{stats['duplicates_exact']:,}",
                   loose=f"{stats['duplicates_normalized']:,}"))
    if stats["empty_fields"]:
        lines.append(t("data_sum_empty", lang, fields=", ".join(f"`{k}` {v:,}" for k, v in
                                                              list(stats["empty_fields"].items())[:8])))
    usable = max(1, stats["usable"])
    lines.append(t("data_sum_turns", lang, turns=", ".join(f"{k}: {v:,}" for k, v in
                                                           list(stats["turns"].items())[:10])))
    lines.append(t("data_sum_lang", lang, langs=", ".join(f"{k} {_pct(v / usable)}" for k, v in
                                                          stats["language"].items())))
    if stats["labels"]:
        lines.append(t("data_sum_labels", lang, labels=", ".join(f"{k} {v:,}" for k, v in stats["labels"].items())))
    if stats["token_rows"]:
        lines.append(t("data_sum_tokens", lang, which=t("data_sum_all" if stats["token_exact"] else "data_sum_sample",
                                                         lang),
                       n=f"{stats['token_rows']:,}", model=model, max_len=stats["max_len"],
                       trunc=f"{stats['truncated']:,}", pct=_pct(stats["truncated"] / usable),
                       lost=f"{stats['answer_tokens_lost']:,}", p95=stats["suggested_max_len"].get("p95"),
                       p99=stats["suggested_max_len"].get("p99")))
    return "\n\n".join(lines)


def histogram_figure(hist: dict[str, Any] | None, lang: str) -> go.Figure:
    fig = go.Figure()
    if hist:
        edges = hist["edges"]
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        width = edges[1] - edges[0] if len(edges) > 1 else 1
        for key, color, visible in (("total", "#3182bd", True), ("prompt", "#9e9ac8", "legendonly"),
                                    ("answer", "#31a354", "legendonly")):
            fig.add_bar(x=centers, y=hist[key], width=width, name=t(f"data_hist_{key}", lang),
                        marker_color=color, opacity=0.75, visible=visible)
        fig.add_vline(x=hist["max_len"], line_dash="dash", line_color="#d62728",
                      annotation_text=t("data_hist_line", lang, n=hist["max_len"]), annotation_position="top right")
        fig.update_layout(barmode="overlay", xaxis_title="tokens",
                          title=t("data_hist_title", lang) + " — " + t(
                              "data_hist_note", lang, n=f"{hist['truncated']:,}", pct=_pct(hist["truncated_share"]),
                              lost=f"{hist['answer_tokens_lost']:,}"))
    else:
        fig.update_layout(title=t("data_hist_title", lang))
    fig.update_layout(**{**LAYOUT, "height": 320})
    return fig


def bad_rows_frame(stats: dict[str, Any] | None, lang: str) -> pd.DataFrame:
    rows = [[b["where"], render(b.get("text") or b["reason"], lang)] for b in (stats or {}).get("bad", [])]
    return pd.DataFrame(rows, columns=[t("data_col_where", lang), t("data_col_reason", lang)])


def _tokens_html(pieces: list[tuple[str, str]]) -> str:
    css = {"trained": "td-t", "masked": "td-m", "cut": "td-c"}
    out = []
    for text, kind in pieces:
        body = html.escape(text).replace("\n", "<span class='td-nl'>↵</span>\n")
        out.append(f"<span class='{css[kind]}'>{body}</span>")
    return "".join(out)


def preview_html(preview: dict[str, Any] | None, lang: str, show_raw: bool) -> str:
    if not preview:
        return ""
    parts = [f"<style>{PREVIEW_CSS}</style>", f"<div>{t('data_legend', lang)}</div>",
             "<div class='td-head'>" + html.escape(t("data_page_info", lang, page=preview["page"],
                                                    pages=preview["pages"], rows=f"{preview['rows_total']:,}",
                                                    fmt=preview["format"],
                                                    template=render(preview.get("template_text")
                                                                    or preview["template"], lang))) + "</div>"]
    for row in preview["rows"]:
        head = f"{t('data_row', lang, n=row['index'])} · {row['where']}"
        if row.get("split") and row["split"] != "train":
            head += f" · {row['split']}"
        if "label" in row:
            head += " · " + t("data_label_good" if row["label"] else "data_label_bad", lang)
        block = [f"<div class='td-row' data-row='{row['index']}'><div class='td-head'>{html.escape(head)}</div>"]
        if row["error"]:
            reason = render(row.get("error_message") or row["error"], lang)
            block.append(f"<div class='td-err'>❌ {html.escape(reason)}</div>")
        if show_raw and row.get("raw"):
            block.append(f"<details open><summary>{t('data_raw', lang)}</summary><pre>{html.escape(row['raw'])}</pre>"
                         "</details>")
        for k, ex in enumerate(row["examples"], 1):
            info = t("data_example", lang, k=k, length=ex["length"], trained=ex["trained"])
            if ex.get("side"):
                info = f"{ex['side']} · {info}"
            if ex["truncated"] or ex["dropped"]:
                info += " · " + t("data_truncated", lang, n=preview["max_len"])
            if ex["note"]:
                info += f" · ⚠️ {ex['note']}"
            block.append(f"<div class='td-ex'><small>{html.escape(info)}</small>"
                         f"<div class='td-prev'>{_tokens_html(ex['pieces'])}</div></div>")
        block.append("</div>")
        parts.append("".join(block))
    return "".join(parts)
