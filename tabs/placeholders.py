"""Environment, Model Hub, Dataset Explorer and Compare Chat: each says what is coming."""

from __future__ import annotations

import gradio as gr

from tabs.i18n import t
from tabs.translate import Translator


def build(tr: Translator, key: str) -> None:
    tr.text(gr.Markdown(t(key, tr.lang), elem_id=f"placeholder-{key}"), key)
