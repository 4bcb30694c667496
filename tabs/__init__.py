"""TuneDesk's UI: one builder per tab over the shared engine."""

from __future__ import annotations

import gradio as gr

from tabs import api, placeholders, train
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
        with gr.Tabs():
            for key, builder in (("tab_env", "env_coming"), ("tab_hub", "hub_coming"), ("tab_data", "data_coming")):
                with tr.label(gr.Tab(t(key, ctx.lang), elem_id=key), key):
                    placeholders.build(tr, builder)
            with tr.label(gr.Tab(t("tab_train", ctx.lang), elem_id="tab_train"), "tab_train"):
                train.build(ctx, tr, lang_state)
            with tr.label(gr.Tab(t("tab_chat", ctx.lang), elem_id="tab_chat"), "tab_chat"):
                placeholders.build(tr, "chat_coming")
        api.register(ctx)
        lang.change(lambda code: [code, *tr.updates(code)], lang, [lang_state, *tr.components],
                    show_progress="hidden")
        for fn, inputs, outputs in ctx.on_load:
            demo.load(fn, inputs, outputs, show_progress="hidden")
    return demo
