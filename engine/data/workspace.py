"""The datasets folder of the workspace (`<outputs>/datasets/`): cleaned datasets saved by the
Explorer, and column mappings saved for a user's own files (entries of a `dataset_info.json` there, in
LLaMA-Factory's schema, so training reads the file with the same mapping)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.data.clean import NAME_CHARS
from engine.data.sources import INFO_FILE, SourcePlan, read_info, split_files
from engine.errors import DataError

LF_FORMATTING = {"alpaca": "alpaca", "sharegpt": "sharegpt", "openai": "openai", "pairwise": "sharegpt",
                 "kto": "sharegpt", "text": "alpaca"}


def datasets_dir(outputs: Path) -> Path:
    return Path(outputs) / "datasets"


def list_datasets(outputs: Path) -> list[dict[str, Any]]:
    """Saved datasets (folders with train.jsonl …) and saved mappings, each with the spec to train on."""
    root = datasets_dir(outputs)
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = split_files(folder)
        if files:
            card = folder / "card.json"
            info = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}
            out.append({"name": folder.name, "spec": str(folder), "kind": "saved", "format": info.get("format"),
                        "splits": sorted(files), "source": info.get("source")})
    if (root / INFO_FILE).is_file():
        for name, entry in sorted(read_info(root).items()):
            out.append({"name": name, "spec": f"{root}:{name}", "kind": "mapping",
                        "format": entry.get("tunedesk_format"), "source": entry.get("file_name")})
    return out


def save_mapping(outputs: Path, name: str, plan: SourcePlan, fmt: str, columns: dict[str, str]) -> str:
    """Register a file with its column mapping; returns the dataset spec that trains with it."""
    if set(name) - NAME_CHARS or not name or name.startswith("."):
        raise DataError(f"mapping name '{name}': use letters, digits, '-', '_' or '.'")
    if plan.hub is not None or len(plan.files) != 1:
        raise DataError("a column mapping is saved for one data file; for a hub dataset or several files, "
                        "clean and save the dataset instead (the saved copy needs no mapping)")
    root = datasets_dir(outputs)
    root.mkdir(parents=True, exist_ok=True)
    info = read_info(root) if (root / INFO_FILE).is_file() else {}
    entry: dict[str, Any] = {"file_name": str(plan.files[0][0].resolve()), "formatting": LF_FORMATTING[fmt],
                             "columns": {k: v for k, v in columns.items() if v}, "tunedesk_format": fmt}
    if fmt == "pairwise":
        entry["ranking"] = True
    if plan.meta.tags:
        entry["tags"] = plan.meta.tags
    info[name] = entry
    tmp = root / f".{INFO_FILE}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, root / INFO_FILE)
    return f"{root}:{name}"
