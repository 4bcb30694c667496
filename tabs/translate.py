"""Run-time language switching: each builder registers how its components are labelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from tabs.i18n import t


class Translator:
    """Per-app list of (component, how to label it in a language); one switch relabels them all."""

    def __init__(self, lang: str):
        self.lang = lang
        self._items: list[tuple[gr.components.Component | gr.blocks.Block, Callable[[str], dict[str, Any]]]] = []

    def add(self, component: Any, relabel: Callable[[str], dict[str, Any]]) -> Any:
        self._items.append((component, relabel))
        return component

    def label(self, component: Any, key: str) -> Any:
        return self.add(component, lambda lang: {"label": t(key, lang)})

    def button(self, key: str, **kwargs: Any) -> gr.Button:
        return self.add(gr.Button(t(key, self.lang), **kwargs), lambda lang: {"value": t(key, lang)})

    def text(self, component: Any, key: str) -> Any:
        return self.add(component, lambda lang: {"value": t(key, lang)})

    @property
    def components(self) -> list[Any]:
        return [c for c, _ in self._items]

    def updates(self, lang: str) -> list[Any]:
        return [gr.update(**relabel(lang)) for _, relabel in self._items]
