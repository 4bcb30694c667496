"""Engine errors shown as Gradio errors with the engine's own message, for UI handlers and the API."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from engine.errors import TuneDeskError
from engine.runs.storage import READ_ONLY_ERRNOS, is_disk_full, storage_message


def disk_problem(exc: OSError) -> str:
    where = Path(exc.filename).parent if exc.filename else Path.cwd()
    if is_disk_full(exc) or exc.errno in READ_ONLY_ERRNOS:
        return storage_message(exc, where, "folder")
    return f"{exc.strerror or type(exc).__name__}: {exc.filename or exc}"


def gradio_errors(fn: Callable[..., Any] | None = None, *, in_page: bool = False) -> Any:
    """Re-raise TuneDeskError as gr.Error. `in_page`: multi-line messages as HTML lines, kept on screen
    until closed (the API gets the plain text). A handler with a `lang` parameter gets the engine's message
    in that language; the API, which has none, in English."""
    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(inner)

        @functools.wraps(inner)  # Gradio reads parameters (and gr.api the endpoint) from the signature
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return inner(*args, **kwargs)
            except OSError as exc:  # a full, read-only or vanished disk under a running app: named, no traceback
                raise gr.Error(disk_problem(exc)) from exc
            except TuneDeskError as exc:
                text = exc.render(_lang_of(signature, args, kwargs))
                if in_page:
                    raise gr.Error(text.replace("\n", "<br>"), duration=None) from exc
                raise gr.Error(text) from exc
        return wrapped

    return decorate(fn) if fn is not None else decorate


def _lang_of(signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        lang = signature.bind_partial(*args, **kwargs).arguments.get("lang", "en")
    except TypeError:
        return "en"
    return lang if lang in ("en", "zh") else "en"
