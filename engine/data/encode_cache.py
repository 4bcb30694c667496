"""Encoded training examples cached on disk, so a second run on the same data skips encoding.

The key covers everything the examples depend on: the bytes of every data file, the tokenizer's
vocabulary and chat template, and the settings that shape encoding. An entry is written to a
temporary folder and renamed into place, so a crash never leaves a half-written entry that loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from engine.config.train_config import TrainConfig
from engine.data.encode import IGNORE, Encoded
from engine.data.formats import Normalized
from engine.locations import cache_root

# bump when encoding changes what it produces for the same input
ENCODER_VERSION = 2
SPLITS = ("train", "valid", "test")


def _file_digest(path: Path, h: Any) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)


def _tokenizer_digest(tok: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    backend = getattr(tok, "backend_tokenizer", None) or getattr(tok, "_tokenizer", None)
    h.update(backend.to_str().encode() if backend is not None else repr(sorted(tok.get_vocab().items())).encode())
    h.update((tok.chat_template or "").encode())
    h.update(f"{tok.eos_token_id}|{tok.bos_token_id}|{type(tok).__name__}".encode())
    return h.hexdigest()


class EncodeCache:
    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_run(cls, tok: Any, normalized: Normalized, config: TrainConfig) -> EncodeCache | None:
        """None where the data has no files to key on (a hub dataset) or caching is switched off."""
        if not normalized.files or os.environ.get("TUNEDESK_NO_DATA_CACHE"):
            return None

        h = hashlib.blake2b(digest_size=16)
        for path in sorted(normalized.files):
            h.update(str(Path(path).resolve()).encode())
            _file_digest(Path(path), h)
        settings = {k: getattr(config, k) for k in ("dataset", "dataset_format", "method", "max_samples",
                                                    "max_seq_length", "train_on_prompt", "mask_history")}
        h.update(json.dumps({**settings, "version": ENCODER_VERSION, "format": normalized.format,
                             "tokenizer": _tokenizer_digest(tok)}, sort_keys=True).encode())
        return cls(cache_root() / "encoded" / h.hexdigest())

    def load(self) -> tuple[list[tuple[str, Encoded]], dict[str, Any]] | None:
        try:
            report = json.loads((self.folder / "report.json").read_text(encoding="utf-8"))
            arrays = np.load(self.folder / "examples.npz")
            ids, trained, offsets, parts = arrays["ids"], arrays["trained"], arrays["offsets"], arrays["splits"]
        except (OSError, ValueError, KeyError):
            return None
        items = []
        for n in range(len(offsets) - 1):
            a, b = int(offsets[n]), int(offsets[n + 1])
            row = ids[a:b].tolist()
            labels = [t if keep else IGNORE for t, keep in zip(row, trained[a:b].tolist(), strict=True)]
            items.append((SPLITS[int(parts[n])], Encoded(row, labels)))
        return items, report

    def save(self, items: list[tuple[str, Encoded]], report: Any) -> None:
        lengths = np.fromiter((len(e) for _, e in items), dtype=np.int64, count=len(items))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        ids = np.fromiter((t for _, e in items for t in e.input_ids), dtype=np.int32, count=int(offsets[-1]))
        trained = np.fromiter((label != IGNORE for _, e in items for label in e.labels), dtype=bool,
                              count=int(offsets[-1]))
        parts = np.array([SPLITS.index(p) for p, _ in items], dtype=np.int8)
        tmp = self.folder.with_name(self.folder.name + f".tmp{os.getpid()}")
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            np.savez(tmp / "examples.npz", ids=ids, trained=trained, offsets=offsets, splits=parts)
            (tmp / "report.json").write_text(json.dumps(asdict(report)), encoding="utf-8")
            shutil.rmtree(self.folder, ignore_errors=True)
            os.replace(tmp, self.folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # a cache that cannot be written only costs time
