"""A GGUF file read through transformers (an export's check, a GGUF converted for training), parsed once.

For most architectures transformers reads a GGUF with the gguf package's reader three times: for the
config, for the tokenizer and for the weights, each time building a few numpy views per vocabulary entry
(about 15 s for Qwen's 151k tokens and merges on 2 cores, so about a minute for one export check). Inside
`parsed_once()` each file is parsed once and its metadata converted once, and the weights' read skips
the tokenizer's fields, which it never uses. The file is also read through a plain array over the same
mapping instead of a `numpy.memmap`: every slice of a memmap runs Python code of numpy's (two thirds of
the parse), a plain array's slices do not. The mapping is read-only, so sharing it changes nothing that
is read; where transformers no longer loads this way the patch is simply not applied.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_LOCK = threading.RLock()  # one patched read at a time: the patch is process-wide while it lasts
_ACTIVE = [False]  # already inside parsed_once() on this thread (the lock is held): nothing more to patch


def _key(path: str | os.PathLike) -> tuple[str, float]:
    return str(Path(path).resolve()), Path(path).stat().st_mtime


@contextmanager
def parsed_once() -> Iterator[None]:
    try:
        import gguf
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:
        yield
        return
    if not hasattr(gguf, "GGUFReader") or not hasattr(gguf_utils, "load_gguf_checkpoint"):
        yield
        return
    with _LOCK:
        if _ACTIVE[0]:
            yield
            return
        _ACTIVE[0] = True
        real_reader, real_load = gguf.GGUFReader, gguf_utils.load_gguf_checkpoint
        plain_reader = _plain_reader(real_reader)
        readers: dict[tuple[str, float], Any] = {}
        metadata: dict[tuple[str, float], dict] = {}
        weights_only = [False]

        def reader(path: str | os.PathLike, mode: str = "r") -> Any:
            if mode != "r":
                return real_reader(path, mode)
            key = _key(path)
            if key not in readers:
                readers[key] = plain_reader(path, mode)
            if not weights_only[0]:
                return readers[key]
            view = copy.copy(readers[key])
            view.fields = type(view.fields)((k, v) for k, v in view.fields.items()
                                            if not k.startswith("tokenizer.ggml."))
            return view

        def checkpoint(path: str, return_tensors: bool = False, **kwargs: Any) -> dict:
            if return_tensors or kwargs:
                weights_only[0] = True
                try:
                    return real_load(path, return_tensors=return_tensors, **kwargs)
                finally:
                    weights_only[0] = False
            key = _key(path)
            if key not in metadata:
                metadata[key] = real_load(path, return_tensors=False)
            return copy.deepcopy(metadata[key])

        gguf.GGUFReader, gguf_utils.load_gguf_checkpoint = reader, checkpoint
        try:
            yield
        finally:
            gguf.GGUFReader, gguf_utils.load_gguf_checkpoint = real_reader, real_load
            _ACTIVE[0] = False


def _plain_reader(base: type) -> type:
    """The gguf package's reader over a plain array view of its memmap (the same pages, no copy)."""
    import numpy as np

    class PlainArrayReader(base):  # type: ignore[misc, valid-type]
        @property
        def data(self) -> Any:
            return self._plain

        @data.setter
        def data(self, value: Any) -> None:
            self._plain = value.view(np.ndarray) if isinstance(value, np.memmap) else value

    return PlainArrayReader
