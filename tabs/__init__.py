"""TuneDesk's UI: one builder per tab over the shared engine."""

from __future__ import annotations

from typing import Any

import gradio as gr

from tabs import api, dataset, placeholders, train
from tabs.context import AppContext
from tabs.i18n import t
from tabs.translate import Translator

CSS = "#run-progress{margin:4px 0} footer{display:none !important}"


def build_app(ctx: AppContext) -> gr.Blocks:
    tr = Translator(ctx.lang)
    with gr.Blocks(title="TuneDesk") as demo:
        with gr.Row():
            tr.add(gr.Markdown(f"## {t('title', ctx.lang)}"), lambda code: {"value": f"## {t('title', code)}"})
            lang = gr.Radio(choices=[("English", "en"), ("简体中文", "zh")], value=ctx.lang,
                            label=t("language", ctx.lang), elem_id="lang", scale=0, min_width=220)
        lang_state = gr.State(ctx.lang)
        with gr.Tabs() as tabs:
            for key, builder in (("tab_env", "env_coming"), ("tab_hub", "hub_coming")):
                with tr.label(gr.Tab(t(key, ctx.lang), elem_id=key), key):
                    placeholders.build(tr, builder)
            with tr.label(gr.Tab(t("tab_data", ctx.lang), elem_id="tab_data", id="data"), "tab_data"):
                data_tab = dataset.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_train", ctx.lang), elem_id="tab_train", id="train"), "tab_train"):
                form = train.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_chat", ctx.lang), elem_id="tab_chat"), "tab_chat"):
                placeholders.build(tr, "chat_coming")
        _send_to_train(ctx, data_tab, form, tabs, lang_state)
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
