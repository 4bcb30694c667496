"""Handing memory back after a run or when chat models are unloaded."""

from __future__ import annotations


def release_memory() -> None:
    """Give back what a finished run or unloaded chat models held (Python objects, then CUDA's cache)."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
    _trim_heap()


def _trim_heap() -> None:
    """glibc keeps freed memory in its arenas (one per thread that allocated); after a run gigabytes of
    tensors can stay resident. malloc_trim hands the free pages back to the system."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # musl or another libc: nothing to trim
            pass
