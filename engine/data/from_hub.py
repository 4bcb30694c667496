"""Datasets from the Hugging Face or ModelScope hubs, read into TuneDesk rows."""

from __future__ import annotations

from urllib.parse import parse_qsl

from engine.data.readers import Row
from engine.errors import DataError, HubUnreachable
from engine.hub.reach import ensure_reachable


def load_hub_rows(spec: str, max_samples: int = 0, prefer_modelscope: bool = False) -> list[Row]:
    """`org/name`, `hf:org/name` or `ms:org/name` (ModelScope), optionally `?subset=NAME&split=NAME`
    (default split: train)."""
    use_ms = prefer_modelscope
    spec, _, query = spec.partition("?")
    options = dict(parse_qsl(query))
    subset, split_name = options.get("subset") or None, options.get("split") or "train"
    for prefix, is_ms in (("ms:", True), ("modelscope:", True), ("hf:", False)):
        if spec.startswith(prefix):
            spec, use_ms = spec[len(prefix):], is_ms
    if spec.count("/") != 1:
        raise DataError(f"dataset: '{spec}' is neither an existing file or folder nor a hub id like org/name")
    try:
        ensure_reachable("modelscope" if use_ms else "hf")
    except HubUnreachable as exc:
        raise DataError(f"dataset '{spec}': {exc}") from exc
    split = f"{split_name}[:{max_samples}]" if max_samples else split_name
    try:
        if use_ms:
            from modelscope.msdatasets import MsDataset

            data = MsDataset.load(spec, subset_name=subset, split=split).to_hf_dataset()
        else:
            import datasets

            data = datasets.load_dataset(spec, subset, split=split)
    except Exception as exc:  # the hub libraries raise many types; the message is what matters
        raise DataError(f"dataset '{spec}': could not load from the hub: {exc}") from exc
    return [Row(dict(r), spec, i) for i, r in enumerate(data, 1)]
