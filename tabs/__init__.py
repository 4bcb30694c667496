"""TuneDesk's UI: one builder per tab over the shared engine."""

from __future__ import annotations

from typing import Any

import gradio as gr

from engine.inference.sides import side_choices
from tabs import api, compare_chat, dataset, environment, model_hub, train
from tabs.context import AppContext
from tabs.i18n import t
from tabs.translate import Translator
from tabs.widgets import job_events

CSS = ("#run-progress{margin:4px 0} "
       "#train-controls{position:sticky;top:0;z-index:20;background:var(--background-fill-primary)} "
       ".td-planned{outline:2px solid #f59e0b;outline-offset:2px;border-radius:6px}")


def build_app(ctx: AppContext) -> gr.Blocks:
    tr = Translator(ctx.lang)
    # uploads land in Gradio's temp folder; TuneDesk copies what it keeps, so a day-old upload is removed
    with gr.Blocks(title="TuneDesk", delete_cache=(3600, 86400)) as demo:
        with gr.Row():
            tr.add(gr.Markdown(f"## {t('title', ctx.lang)}"), lambda code: {"value": f"## {t('title', code)}"})
            lang = gr.Radio(choices=[("English", "en"), ("简体中文", "zh")], value=ctx.lang,
                            label=t("language", ctx.lang), elem_id="lang", scale=0, min_width=220)
        lang_state = gr.State(ctx.lang)
        with gr.Tabs() as tabs:
            with tr.label(gr.Tab(t("tab_env", ctx.lang), elem_id="tab_env", id="env"), "tab_env") as env_tab:
                env_timer = environment.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_hub", ctx.lang), elem_id="tab_hub", id="hub"), "tab_hub") as hub_tab:
                hub_timer = model_hub.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_data", ctx.lang), elem_id="tab_data", id="data"), "tab_data") as data_t:
                data_tab = dataset.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_train", ctx.lang), elem_id="tab_train", id="train"), "tab_train") as train_t:
                form = train.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_chat", ctx.lang), elem_id="tab_chat", id="chat"), "tab_chat") as chat_t:
                chat = compare_chat.build(ctx, tr, lang_state)
        _live_only_when_shown(ctx, env_tab, env_timer, [hub_tab, data_t, train_t, chat_t])
        _timer_while_open(hub_tab, hub_timer, [env_tab, data_t, train_t, chat_t], job_events("download"))
        _send_to_train(ctx, data_tab, form, tabs, lang_state)
        _open_in_chat(ctx, form, chat, tabs)
        public = api.register(ctx)
        lang.change(lambda code: [code, *tr.updates(code)], lang, [lang_state, *tr.components],
                    show_progress="hidden")
        for fn, inputs, outputs in ctx.on_load:
            demo.load(fn, inputs, outputs, show_progress="hidden")
    for fn in demo.fns.values():  # UI-internal handlers are not part of the API
        if fn.api_name not in public:
            fn.api_visibility = "private"
    return demo


def _send_to_train(ctx: AppContext, data_tab: dataset.DatasetTab, form: train.TrainForm, tabs: gr.Tabs,
                   lang_state: gr.State) -> None:
    """"Use in Train": the saved dataset (or else the one being explored) becomes the Train form's dataset."""

    def send(saved: str, source: str, entry: str, lang: str) -> list[Any]:
        spec = saved or ((f"{source}:{entry}" if entry else source) or "").strip()
        if not spec:
            raise gr.Error(t("data_nothing", lang))
        return [gr.update(choices=train.dataset_choices(ctx) + [spec], value=spec), gr.Tabs(selected="train")]

    data_tab.use_in_train.click(send, [data_tab.chosen, data_tab.source, data_tab.entry, lang_state],
                                [form.widgets["dataset"], tabs], api_visibility="private")
    data_tab.chosen.change(lambda _: gr.update(choices=train.dataset_choices(ctx)), data_tab.chosen,
                           form.widgets["dataset"], api_visibility="private", show_progress="hidden")


def _open_in_chat(ctx: AppContext, form: train.TrainForm, chat: compare_chat.ChatTab, tabs: gr.Tabs) -> None:
    """"Open in Compare Chat": the selected run on the right, its base model on the left."""

    def open_run(run_id: str | None) -> list[Any]:
        if not run_id:
            raise gr.Error("select a completed run first")
        config = ctx.door.manager.run(run_id).config()
        fresh = side_choices(ctx.door.manager)
        return [gr.update(choices=fresh, value=f"base:{config.model_name_or_path}"),
                gr.update(choices=fresh, value=f"run:{run_id}"), gr.Tabs(selected="chat")]

    form.open_in_chat.click(open_run, form.selected, [chat.left, chat.right, tabs], api_visibility="private",
                            show_progress="hidden")


def _timer_while_open(tab: gr.Tab, timer: gr.Timer, others: list[gr.Tab], events: dict[str, Any]) -> None:
    """Opening the tab starts the timer (its first tick stops it when there is nothing to follow); `events`
    puts these in the group of the timer's own job events."""
    tab.select(lambda: gr.Timer(active=True), None, timer, **events)
    for other in others:
        other.select(lambda: gr.Timer(active=False), None, timer, **events)


def _live_only_when_shown(ctx: AppContext, env_tab: gr.Tab, timer: gr.Timer, others: list[gr.Tab]) -> None:
    """The Environment tab is the first one shown: it fills in on page load, and its 1 Hz chart polls
    only while it is open (on 2 cores every redraw competes with training)."""
    fn, inputs, outputs = ctx.on_tab_open["env"]
    hidden = {"api_visibility": "private", "show_progress": "hidden"}
    env_tab.select(fn, inputs, outputs, **hidden)
    env_tab.select(lambda: gr.Timer(active=True), None, timer, **hidden)
    for tab in others:
        tab.select(lambda: gr.Timer(active=False), None, timer, **hidden)
    ctx.on_load.append((fn, inputs, outputs))
    ctx.on_load.append((lambda: gr.Timer(active=True), [], [timer]))
