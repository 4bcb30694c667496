"""The one progress bar every tab shows: a run in the Train tab, and the background jobs of the Dataset
Explorer, the Model Hub, Compare Chat and the Export panel."""

from __future__ import annotations

import html

COLORS = {"running": "#2563eb", "queued": "#9ca3af", "pending": "#9ca3af", "done": "#16a34a",
          "completed": "#16a34a", "failed": "#dc2626", "cancelled": "#d97706", "interrupted": "#d97706",
          "stopped": "#d97706"}


def bar_html(elem_id: str, fraction: float, text: str, state: str, css_class: str = "",
             data: dict[str, object] | None = None) -> str:
    """A bar with its state in data-state (what the browser tests wait for), any other `data` as data-*
    attributes, and one line of text under it."""
    color = COLORS.get(state, "#6b7280")
    ident = f' id="{elem_id}"' if elem_id else ""
    ident += "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in (data or {}).items())
    klass = f' class="{css_class}" style="margin:6px 0"' if css_class else ""
    return (f'<div{ident}{klass} data-state="{state}"><div style="background:#e5e7eb;border-radius:4px;'
            f'height:10px"><div style="width:{int(max(0.0, min(1.0, fraction)) * 100)}%;background:{color};'
            f'height:10px;border-radius:4px"></div></div><div style="font-size:0.9em">{html.escape(text)}</div></div>')
