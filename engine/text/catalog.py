"""Every message key with its English and Chinese text, gathered from the areas that say them."""

from __future__ import annotations

from engine.text.levers import LEVERS
from engine.text.machine import MACHINE
from engine.text.plan import PLAN
from engine.text.rows import ROWS
from engine.text.runs import RUNS

CATALOG: dict[str, tuple[str, str]] = {"plain": ("{text}", "{text}"), **ROWS, **RUNS, **MACHINE, **PLAN, **LEVERS}
