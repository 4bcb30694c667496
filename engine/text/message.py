"""A message for a user: a key into the catalogue and the values it names. Rendered late, in the reader's
language; its English rendering is what `str()` gives, so logs and exceptions read as before."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from typing import Any

from engine.text.catalog import CATALOG

LANGS = ("en", "zh")


@dataclass(frozen=True)
class Text:
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        en, zh = CATALOG[self.key]
        template = zh if lang == "zh" else en
        return template.format(**{k: render(v, lang) for k, v in self.values.items()})

    def __str__(self) -> str:
        return self.render("en")

    def to_dict(self) -> dict[str, Any]:
        """For JSON files (status.json, statistics): nested messages as dicts too."""
        return {"key": self.key, "values": {k: _stored(v) for k, v in self.values.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Text:
        return cls(str(data["key"]), {k: _loaded(v) for k, v in (data.get("values") or {}).items()})


@dataclass(frozen=True)
class Joined:
    """Several messages in a row, separated as each language separates list items."""

    items: tuple[Any, ...]
    sep: str = "run.step_sep"  # the catalogue key of the separator

    def render(self, lang: str = "en") -> str:
        return CATALOG[self.sep][1 if lang == "zh" else 0].join(render(i, lang) for i in self.items)

    def __str__(self) -> str:
        return self.render("en")


def reader_lang() -> str:
    """The language a terminal user reads: TUNEDESK_LANG when set to one TuneDesk speaks, else the locale's."""
    chosen = os.environ.get("TUNEDESK_LANG", "")
    if chosen in LANGS:
        return chosen
    locale = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def plain(text: str) -> Text:
    """Text that has no translation (a library's own message): shown as it is in every language."""
    return Text("plain", {"text": text})


def say(key: str, **values: Any) -> Text:
    if key not in CATALOG:  # a typo in a key would otherwise surface only when the message is shown
        raise KeyError(f"no message '{key}' in engine/text")
    return Text(key, values)


def render(value: Any, lang: str = "en") -> str:
    """A message, a stored message (dict with key and values), or anything else as text."""
    if isinstance(value, (Text, Joined)):
        return value.render(lang)
    if isinstance(value, dict) and set(value) == {"key", "values"} and value["key"] in CATALOG:
        return Text.from_dict(value).render(lang)
    return "" if value is None else str(value)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _stored(value: Any) -> Any:
    if isinstance(value, Text):
        return value.to_dict()
    if isinstance(value, Joined):
        return {"joined": [_stored(i) for i in value.items], "sep": value.sep}
    return value


def _loaded(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"key", "values"}:
        return Text.from_dict(value)
    if isinstance(value, dict) and set(value) == {"joined", "sep"}:
        return Joined(tuple(_loaded(i) for i in value["joined"]), value["sep"])
    return value
