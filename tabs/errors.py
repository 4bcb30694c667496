"""Engine errors shown as Gradio errors with the engine's own message, for UI handlers and the API."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gradio as gr

from engine.config import ConfigError
from engine.errors import TuneDeskError


def gradio_errors(fn: Callable[..., Any] | None = None, *, in_page: bool = False) -> Any:
    """Re-raise ConfigError/TuneDeskError as gr.Error. `in_page`: multi-line messages as HTML lines,
    kept on screen until closed (the API gets the plain text)."""
    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(inner)  # Gradio reads parameters (and gr.api the endpoint) from the signature
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return inner(*args, **kwargs)
            except (ConfigError, TuneDeskError) as exc:
                if in_page:
                    raise gr.Error(str(exc).replace("\n", "<br>"), duration=None) from exc
                raise gr.Error(str(exc)) from exc
        return wrapped

    return decorate(fn) if fn is not None else decorate
