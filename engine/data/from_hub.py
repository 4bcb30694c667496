"""Datasets from the Hugging Face or ModelScope hubs: their data files downloaded into the cache
(engine/hub/dataset_download.py), then read by TuneDesk's own readers like files on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from urllib.parse import parse_qsl

from engine.data.readers import Row, iter_split_files
from engine.errors import DataError, ModelError
from engine.hub.dataset_download import HubDataset, download_dataset

# a file's split, from its name or folder: train-00000-of-00001.parquet, data/validation.jsonl, test/x.csv
SPLITS = {"train": "train", "validation": "valid", "valid": "valid", "val": "valid", "dev": "valid", "eval": "valid",
          "test": "test"}


def hub_files(spec: str, prefer_modelscope: bool = False,
              progress: Callable[[int, int], None] | None = None) -> tuple[HubDataset, dict[str, str]]:
    """The data files of `org/name`, `hf:org/name` or `ms:org/name` (`?subset=&split=` optional), in the
    cache: downloaded now unless they are there already."""
    spec, _, query = spec.partition("?")
    options = dict(parse_qsl(query))
    source = "modelscope" if prefer_modelscope else "auto"
    for prefix, hub in (("ms:", "modelscope"), ("modelscope:", "modelscope"), ("hf:", "hf")):
        if spec.startswith(prefix):
            spec, source = spec[len(prefix):], hub
    if spec.count("/") != 1:
        raise DataError(f"dataset: '{spec}' is neither an existing file or folder nor a hub id like org/name")
    try:
        return download_dataset(spec, source, subset=options.get("subset", ""), progress=progress), options
    except ModelError as exc:
        raise DataError(f"dataset '{spec}': {exc}") from exc


def load_hub_rows(spec: str, max_samples: int = 0, prefer_modelscope: bool = False) -> Iterator[Row | str]:
    """A hub dataset's rows. Without a split, train files train and validation / test files are kept as
    those splits."""
    found, options = hub_files(spec, prefer_modelscope)
    spec = found.repo
    wanted = SPLITS.get(options.get("split", "").lower(), options.get("split", "").lower())
    files = [(path, split_of(path)) for path in found.files]
    if wanted:
        files = [(path, "train") for path, split in files if split == wanted]
        if not files:
            raise DataError(f"dataset '{spec}' has no '{options['split']}' split; its files: "
                            + ", ".join(found.files[:12]))
    yield from iter_split_files(((found.folder / path, split) for path, split in files), max_samples)


def split_of(path: str) -> str:
    """The split a hub file belongs to; files that name none are training data."""
    parts = PurePosixPath(path.lower()).parts
    for part in reversed(parts):
        stem = part.split(".")[0]
        for token in (stem, stem.split("-")[0], stem.split("_")[0]):
            if token in SPLITS:
                return SPLITS[token]
    return "train"
