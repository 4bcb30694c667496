"""Widgets named after the fields of what they fill in (an export request, clean options, sampling).

Gradio hands a handler its inputs by position; a `WidgetGroup` is a dataclass of widgets whose field
order is that position, written once. Handlers take the values as `*values` and read them back by
name, so no handler lists a dozen parameters by position and no call site repeats the order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

# UI handlers are not API endpoints (each tab action has its documented endpoint in tabs/api.py)
PRIVATE: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}


def job_events(group: str) -> dict[str, Any]:
    """For a job's start and its poll: one at a time, so a poll that began before a start cannot end after it
    and put the previous job back in the page's state (the new job would then never be shown)."""
    return {**PRIVATE, "concurrency_id": group, "concurrency_limit": 1}


class WidgetGroup:
    """Subclass as a dataclass of widgets; a field may hold a dict of widgets (one per key)."""

    def components(self) -> list[Any]:
        out: list[Any] = []
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out += list(value.values()) if isinstance(value, dict) else [value]
        return out

    def read(self, values: Sequence[Any]) -> dict[str, Any]:
        """The values Gradio passed for `components()`, by field name (strings stripped)."""
        items = iter(values)
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, dict):
                out[f.name] = {key: _clean(next(items)) for key in value}
            else:
                out[f.name] = _clean(next(items))
        if next(items, _END) is not _END:
            raise ValueError(f"{type(self).__name__}: more values than widgets")
        return out

    def __len__(self) -> int:
        return len(self.components())


_END = object()


def _clean(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value
