"""A run's name and tags, which the user can edit (a run's id stays what it was made with), kept in
<run>/label.json apart from status.json, which the training thread writes; and the search over runs."""

from __future__ import annotations

from typing import Any

from engine.errors import RunError
from engine.runs.rundir import RunDir, read_json, write_json_atomic

LABEL_FILE = "label.json"
MAX_NAME, MAX_TAG, MAX_TAGS = 80, 30, 10


def parse_tags(text: str | list[str]) -> list[str]:
    parts = text if isinstance(text, list) else str(text or "").replace("，", ",").split(",")
    return list(dict.fromkeys(tag.strip() for tag in parts if tag and tag.strip()))


def write_label(run: RunDir, name: str | None, tags: str | list[str] | None) -> dict[str, Any]:
    """`None` keeps what was saved (a new name keeps the tags, and the other way round)."""
    saved = read_label(run)
    name = saved["name"] if name is None else " ".join(str(name).split())
    tag_list = saved["tags"] if tags is None else parse_tags(tags)
    if len(name) > MAX_NAME:
        raise RunError(f"run name: {len(name)} characters; keep it to {MAX_NAME}")
    if len(tag_list) > MAX_TAGS:
        raise RunError(f"tags: {len(tag_list)} tags; keep it to {MAX_TAGS}, separated by commas")
    long = [tag for tag in tag_list if len(tag) > MAX_TAG]
    if long:
        raise RunError(f"tags: {long[0][:40]!r} is longer than {MAX_TAG} characters; tags are short words such "
                       "as baseline, lr-sweep")
    label = {"name": name, "tags": tag_list}
    write_json_atomic(run.path / LABEL_FILE, label)
    return label


def read_label(run: RunDir) -> dict[str, Any]:
    label = read_json(run.path / LABEL_FILE, {}) or {}
    return {"name": str(label.get("name") or ""), "tags": [str(t) for t in label.get("tags") or []]}


def matches(summary: dict[str, Any], query: str) -> bool:
    """Every word of `query` is in the run's id, name, tags, model, method or state (any case)."""
    text = " ".join([str(summary.get(key) or "") for key in ("run_id", "name", "model", "method", "state")]
                    + list(summary.get("tags") or [])).lower()
    return all(word.lstrip("#") in text for word in (query or "").lower().split())  # the table shows #tag
