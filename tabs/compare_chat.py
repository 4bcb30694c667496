"""The Compare Chat tab: the same prompt to two sides (base, a run's final model or a checkpoint),
answers streaming into two panes; and the batch comparison "did it help — and did it hurt?" as a
background job with a progress bar. `engine.inference` and `engine.evaluation` do the work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from engine.config.field_info import DEFAULT_MODEL
from engine.errors import ModelError, TuneDeskError
from engine.evaluation.batch import CompareRequest
from engine.inference.decode import Sampling
from engine.inference.sides import side_choices, side_label
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.translate import Translator
from tabs.widgets import PRIVATE, WidgetGroup, job_events

STOPS: dict[str, threading.Event] = {}  # per browser session: the Stop button ends that session's generation


@dataclass
class ChatTab:
    left: gr.Dropdown
    right: gr.Dropdown


def default_sides(ctx: AppContext) -> tuple[str, str]:
    """Base on the left; the newest completed run on the right (its own base on the left)."""
    for row in ctx.door.manager.list_runs():
        if row["state"] == "completed":
            return f"base:{row['model']}", f"run:{row['run_id']}"
    return f"base:{DEFAULT_MODEL}", f"base:{DEFAULT_MODEL}"


def report_markdown(report: dict[str, Any], lang: str) -> str:
    s = report["summary"]
    lines = [t("chat_report_head", lang, left=report["left"], right=report["right"])]
    if s.get("with_reference"):
        def cell(metric: str, side: str) -> str:
            value = s.get(f"{side}_{metric}")
            return "–" if value is None else f"{value}"

        table = ["| | BLEU-4 | ROUGE-L | " + t("chat_ppl", lang) + " |", "|---|---|---|---|"]
        for side in ("left", "right"):
            table.append(f"| {report[side]} | {cell('bleu4', side)} | {cell('rougeL', side)} | "
                         f"{cell('perplexity', side)} |")
        table.append(f"| Δ ({t('chat_right', lang)} − {t('chat_left', lang)}) | {cell('bleu4', 'diff')} | "
                     f"{cell('rougeL', 'diff')} | {cell('perplexity', 'diff')} |")
        lines.append("\n".join(table))
    if s.get("task_right"):
        r = s["task_right"]
        lines.append(t("chat_task_right", lang, left=r["left"], right=r["right"], of=r["of"]))
    if s.get("general_right"):
        g = s["general_right"]
        lines.append(t("chat_general_right", lang, left=g["left"], right=g["right"], of=g["of"]))
    if s.get("general_leaks"):
        leaks = s["general_leaks"]
        lines.append(t("chat_leaks", lang, left=leaks["left"], right=leaks["right"], of=leaks["of"],
                       terms=", ".join(s.get("signature_terms", [])[:6])))
    return "\n\n".join(lines)


def report_frame(report: dict[str, Any]) -> pd.DataFrame:
    columns = ["kind", "question", "left_answer", "right_answer", "reference", "left_bleu4", "right_bleu4",
               "left_rougeL", "right_rougeL", "left_right", "right_right", "right_leak"]
    rows = [{c: r.get(c, "") for c in columns} for r in report["rows"]]
    return pd.DataFrame(rows, columns=columns)


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> ChatTab:
    left0, right0 = default_sides(ctx)
    choices = side_choices(ctx.door.manager)
    with gr.Row():
        left = tr.label(gr.Dropdown(choices, value=left0, label=t("chat_left_model", tr.lang), allow_custom_value=True,
                                    elem_id="chat-left", scale=3), "chat_left_model")
        right = tr.label(gr.Dropdown(choices, value=right0, label=t("chat_right_model", tr.lang),
                                     allow_custom_value=True, elem_id="chat-right", scale=3), "chat_right_model")
        refresh = tr.button("chat_refresh", elem_id="chat-refresh", scale=0, min_width=110)
    info = gr.Markdown(elem_id="chat-info")
    with gr.Row(equal_height=True):
        left_box = gr.Chatbot(label=side_label(left0), elem_id="chat-left-pane", height=420)
        right_box = gr.Chatbot(label=side_label(right0), elem_id="chat-right-pane", height=420)
    with gr.Row():
        message = tr.label(gr.Textbox(label=t("chat_message", tr.lang), lines=2, elem_id="chat-message", scale=5),
                           "chat_message")
        send_btn = tr.button("chat_send", variant="primary", elem_id="chat-send", scale=0, min_width=100)
        stop = tr.button("chat_stop", variant="stop", elem_id="chat-stop", scale=0, min_width=100)
        clear = tr.button("chat_clear", elem_id="chat-clear", scale=0, min_width=100)
    with gr.Accordion(t("chat_sampling", tr.lang), open=False) as sampling_acc:
        system = tr.label(gr.Textbox(label=t("chat_system", tr.lang), lines=2, elem_id="chat-system"), "chat_system")
        with gr.Row():
            temperature = tr.label(gr.Slider(0, 2, value=0, step=0.05, label=t("chat_temperature", tr.lang)),
                                   "chat_temperature")
            top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top-p")
            top_k = gr.Number(0, label="top-k", precision=0, minimum=0)
        with gr.Row():
            max_new = tr.label(gr.Slider(1, 2048, value=256, step=1, label=t("chat_max_new", tr.lang),
                                         elem_id="chat-max-new"), "chat_max_new")
            repetition = tr.label(gr.Slider(0.8, 2.0, value=1.0, step=0.05, label=t("chat_repetition", tr.lang)),
                                  "chat_repetition")
            seed = tr.label(gr.Number(0, label=t("chat_seed", tr.lang), precision=0, minimum=0), "chat_seed")
    tr.label(sampling_acc, "chat_sampling")
    with gr.Accordion(t("chat_batch", tr.lang), open=False, elem_id="chat-batch") as batch_acc:
        tr.text(gr.Markdown(t("chat_batch_help", tr.lang)), "chat_batch_help")
        with gr.Row():
            upload = tr.label(gr.File(label=t("chat_questions_file", tr.lang), file_types=[".json", ".jsonl", ".csv"],
                                      height=90, elem_id="chat-questions-file", scale=2), "chat_questions_file")
            path = tr.label(gr.Textbox(label=t("chat_questions_path", tr.lang), elem_id="chat-questions-path",
                                       scale=3), "chat_questions_path")
        with gr.Row():
            split = tr.label(gr.Radio(["auto", "valid", "test"], value="auto", label=t("chat_split", tr.lang)),
                             "chat_split")
            general = tr.label(gr.Checkbox(True, label=t("chat_general", tr.lang), elem_id="chat-general"),
                               "chat_general")
            batch_new = tr.label(gr.Number(128, label=t("chat_max_new", tr.lang), precision=0, minimum=1,
                                           maximum=2048), "chat_max_new")
            start = tr.button("chat_batch_start", variant="primary", elem_id="chat-batch-start", scale=0,
                              min_width=140)
            cancel = tr.button("chat_batch_cancel", variant="stop", elem_id="chat-batch-cancel", scale=0,
                               min_width=110)
        batch_progress = gr.HTML(elem_id="chat-batch-progress")
        summary = gr.Markdown(elem_id="chat-batch-summary")
        table = gr.Dataframe(interactive=False, wrap=True, visible=False, elem_id="chat-batch-table",
                             column_widths=["70px", "18%", "20%", "20%", "14%"] + ["72px"] * 7)
        files = gr.File(label="JSON / CSV", file_count="multiple", interactive=False, visible=False,
                        elem_id="chat-batch-files")
    tr.label(batch_acc, "chat_batch")
    with gr.Accordion(t("chat_api", tr.lang), open=False, elem_id="chat-api") as api_acc:
        tr.text(gr.Markdown(t("chat_api_help", tr.lang)), "chat_api_help")
        api_model = tr.label(gr.Textbox(right0, label=t("chat_api_model", tr.lang), interactive=False,
                                        buttons=["copy"], elem_id="chat-api-model"), "chat_api_model")
    tr.label(api_acc, "chat_api")
    right.change(lambda spec: spec or "", right, api_model, **PRIVATE)
    job_state = gr.State("")
    timer = gr.Timer(1.0, active=False)
    sampling = SamplingWidgets(temperature, top_p, top_k, max_new, repetition, seed)
    batch = BatchWidgets(upload, path, split, general, batch_new)

    refresh.click(lambda lv, rv: refresh_sides(ctx, lv, rv), [left, right], [left, right], **PRIVATE)
    ctx.on_load.append((lambda lv, rv: refresh_sides(ctx, lv, rv), [left, right], [left, right]))
    for box, dropdown in ((left_box, left), (right_box, right)):
        dropdown.change(relabel, dropdown, box, **PRIVATE)

    def on_send(lang: str, l_spec: str, r_spec: str, text: str, hist_l: list, hist_r: list, sys_text: str,
                request: gr.Request, *values: Any) -> Iterator[Any]:
        yield from send(ctx, lang, ChatTurn(l_spec, r_spec, text, hist_l, hist_r, sys_text or ""),
                        sampling.read(values), request.session_hash or "")

    # gr.Request is filled in by its type, outside the positional inputs
    inputs = [lang_state, left, right, message, left_box, right_box, system, *sampling.components()]
    send_outputs = [left_box, right_box, message, info]
    send_btn.click(on_send, inputs, send_outputs, **PRIVATE)
    message.submit(on_send, inputs, send_outputs, **PRIVATE)

    def on_stop(request: gr.Request) -> None:
        event = STOPS.get(request.session_hash or "")
        if event is not None:
            event.set()

    stop.click(on_stop, None, None, **PRIVATE)
    clear.click(lambda: ([], []), None, [left_box, right_box], **PRIVATE)

    tick_outputs = [timer, batch_progress, summary, table, files, job_state]
    start.click(lambda *v: start_batch(ctx, batch, *v), [lang_state, left, right, system, *batch.components()],
                [job_state, timer, batch_progress, summary, table, files], **job_events("compare"))
    cancel.click(lambda job: ctx.door.comparer.jobs.cancel(job) if job else None, job_state, None, **PRIVATE)
    timer.tick(lambda job_id, lang: batch_tick(ctx, job_id, lang), [job_state, lang_state], tick_outputs,
               **job_events("compare"))
    ctx.on_load.append((lambda job_id, lang: batch_tick(ctx, job_id, lang), [job_state, lang_state], tick_outputs))
    return ChatTab(left, right)


@dataclass
class SamplingWidgets(WidgetGroup):
    """Named as Sampling's fields."""

    temperature: gr.Slider
    top_p: gr.Slider
    top_k: gr.Number
    max_new_tokens: gr.Slider
    repetition_penalty: gr.Slider
    seed: gr.Number

    def read(self, values: Any) -> Sampling:  # type: ignore[override]
        return Sampling.of(**super().read(values))


@dataclass
class BatchWidgets(WidgetGroup):
    upload: gr.File
    typed_path: gr.Textbox
    split: gr.Radio
    general: gr.Checkbox
    max_new_tokens: gr.Number


@dataclass
class ChatTurn:
    """One message to both sides, with what each pane showed before it."""

    left: str
    right: str
    message: str
    left_history: list | None
    right_history: list | None
    system: str


def refresh_sides(ctx: AppContext, l_value: str, r_value: str) -> list[Any]:
    fresh = side_choices(ctx.door.manager)
    return [gr.update(choices=fresh, value=l_value), gr.update(choices=fresh, value=r_value)]


def relabel(spec: str) -> Any:
    return gr.update(label=side_label(spec or ""), value=[])


def send(ctx: AppContext, lang: str, turn: ChatTurn, sampling: Sampling, session: str) -> Iterator[Any]:
    """Both panes grow as tokens arrive (errors come back as the engine's message)."""
    event = None
    try:
        if not (turn.message or "").strip():
            raise ModelError(t("chat_empty", lang))
        event = STOPS[session] = threading.Event()
        turns = [_turns(turn.left_history), _turns(turn.right_history)]
        hist_l = list(turn.left_history or []) + [{"role": "user", "content": turn.message}]
        hist_r = list(turn.right_history or []) + [{"role": "user", "content": turn.message}]
        waiting = {"role": "assistant", "content": t("chat_loading", lang)}
        yield hist_l + [waiting], hist_r + [waiting], "", gr.update()
        details: dict[str, Any] = {}
        stream = ctx.door.chat_stream(turn.left, turn.right, turn.message, turns, turn.system, sampling, event,
                                      on_loaded=details.update)
        described, a, b = "", "", ""
        for a, b in stream:
            described = described or _describe(details, lang)
            yield (hist_l + [{"role": "assistant", "content": a or "…"}],
                   hist_r + [{"role": "assistant", "content": b or "…"}], "", described)
        if not (a.strip() and b.strip()):  # say so rather than leave an empty bubble
            blank = t("chat_blank", lang)
            yield (hist_l + [{"role": "assistant", "content": a.strip() or blank}],
                   hist_r + [{"role": "assistant", "content": b.strip() or blank}], "", described)
    except TuneDeskError as exc:
        raise gr.Error(str(exc), duration=None) from exc
    finally:  # the session's Stop event goes once its answer ends (a newer one may have replaced it)
        if event is not None and STOPS.get(session) is event:
            del STOPS[session]


@gradio_errors(in_page=True)
def start_batch(ctx: AppContext, widgets: BatchWidgets, lang: str, left: str, right: str, system: str,
                *values: Any) -> list[Any]:
    chosen = widgets.read(values)
    file = chosen["upload"]
    source = (file if isinstance(file, str) else getattr(file, "name", "")) if file else chosen["typed_path"]
    request = CompareRequest(left, right, source, chosen["split"] or "auto", bool(chosen["general"]),
                             int(chosen["max_new_tokens"] or 128), system=system or "")
    job_id = ctx.door.compare(request, uploaded=file is not None)
    return [job_id, gr.Timer(active=True), bar_html("chat-batch-bar", 0.0, t("chat_loading", lang), "running"), "",
            gr.update(visible=False), gr.update(visible=False)]


def batch_tick(ctx: AppContext, job_id: str, lang: str) -> list[Any]:
    job = ctx.door.comparer.jobs.latest("compare") if not job_id else _job(ctx, job_id)
    if job is None:
        return [gr.Timer(active=False), gr.update(), gr.update(), gr.update(), gr.update(), job_id]
    bar = bar_html("chat-batch-bar", job.progress, job.error_text(lang) or job.message or job.state, job.state)
    if job.state == "running":
        return [gr.Timer(active=True), bar, gr.update(), gr.update(), gr.update(), job.job_id]
    if job.state != "done":
        return [gr.Timer(active=False), bar, gr.update(), gr.update(), gr.update(), job.job_id]
    report = job.result
    return [gr.Timer(active=False), bar, report_markdown(report, lang),
            gr.update(value=report_frame(report), visible=True),
            gr.update(value=[report["saved"]["json"], report["saved"]["csv"]], visible=True), job.job_id]


def _job(ctx: AppContext, job_id: str) -> Any:
    try:
        return ctx.door.comparer.jobs.get(job_id)
    except Exception:
        return None


def _turns(history: list | None) -> list[dict[str, str]]:
    out = []
    for m in history or []:
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", "")
        if role in ("user", "assistant") and isinstance(content, str):
            out.append({"role": role, "content": content})
    return out


def _describe(details: dict[str, Any], lang: str) -> str:
    line = t("chat_sides", lang, left=details["labels"][0], lt=details["templates"][0], right=details["labels"][1],
             rt=details["templates"][1])
    if details["shared_base"]:
        line += " · " + t("chat_shared", lang)
    elif any(details.get("merged", [])):
        line += " · " + t("chat_merged", lang)
    return "\n\n".join([line] + [f"⚠️ {w}" for w in details["warnings"]])
