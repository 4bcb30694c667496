"""Search results and a model's page: its architecture and size computed from config.json, whether it
has a chat template, its licence and model card, the download size, and its memory on this machine.

A hub model's config.json is kept in TuneDesk's cache once fetched, so its structure view and memory
estimate work again offline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from engine.errors import HubUnreachable, ModelError
from engine.hub.clients import HubAccess, accesses, check_repo_id, read_text, repo_info, search
from engine.hub.download import select_files
from engine.locations import cache_root, hf_repo_dir
from engine.sizing.shape import shape_from_config

CARD_CHARS = 20_000


def config_cache_dir(repo: str) -> Path:
    return cache_root() / "configs" / repo.replace("/", "--")


def known_config_folder(model: str) -> Path | None:
    """A folder holding `model`'s config.json without the network: its Hugging Face cache snapshot, or
    the config TuneDesk fetched for its model page."""
    if model.count("/") != 1 or Path(model).expanduser().exists():
        return None

    repo_dir = hf_repo_dir(model)
    ref = repo_dir / "refs" / "main"
    if ref.is_file():
        snapshot = repo_dir / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if (snapshot / "config.json").is_file():
            return snapshot
    cached = config_cache_dir(model)
    return cached if (cached / "config.json").is_file() else None


def search_models(query: str, source: str = "hf", endpoint: str = "", token: str = "", limit: int = 20
                  ) -> list[dict[str, Any]]:
    """Models whose id matches `query`, most downloaded first. With source auto, the first hub that answers."""
    if len(query.strip()) > 200:
        raise ModelError("search text is too long: type part of a model name, e.g. qwen2.5 0.5b")
    limit = max(1, min(int(limit), 100))
    return _first(accesses(source, endpoint, token), lambda access: search(query, access, limit))


def model_info(repo: str, source: str = "auto", endpoint: str = "", token: str = "") -> dict[str, Any]:
    repo = check_repo_id(repo)
    return _first(accesses(source, endpoint, token), lambda access: _page(repo, access))


def fetch_config(repo: str, source: str = "auto", endpoint: str = "", token: str = "") -> Path:
    """A folder with `repo`'s config.json: from the caches, or fetched from the hub (a few KB)."""
    repo = check_repo_id(repo)
    folder = known_config_folder(repo)
    if folder is not None:
        return folder

    def get(access: HubAccess) -> Path:
        info = repo_info(repo, access)
        text = read_text(access, repo, "config.json", info["revision"])
        if text is None:
            raise ModelError(f"{repo} has no config.json: not a transformers model")
        return _keep_config(repo, text)

    return _first(accesses(source, endpoint, token), get)


def _first(tries: list[HubAccess], call: Any) -> Any:
    errors = []
    for access in tries:
        try:
            return call(access)
        except (HubUnreachable, ModelError) as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise ModelError(errors[0])
    raise ModelError(" · ".join(errors))


def _keep_config(repo: str, text: str) -> Path:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{repo}: its config.json is not valid JSON ({exc.msg})") from exc
    folder = config_cache_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(text, encoding="utf-8")
    return folder


def _page(repo: str, access: HubAccess) -> dict[str, Any]:
    info = repo_info(repo, access)
    rev = info["revision"]
    files = info.pop("files")
    names = {f.path for f in files}
    page: dict[str, Any] = {**info, "files_count": len(files), "url": f"{access.url}/{repo}"}
    try:
        wanted = select_files(files)
        page["download_gb"] = round(sum(f.size for f in wanted) / 2**30, 3)
    except ModelError as exc:
        page["download_gb"], page["download_note"] = None, str(exc)
    page["ggufs"] = sorted(n for n in names if n.endswith(".gguf"))
    config_text = read_text(access, repo, "config.json", rev) if "config.json" in names else None
    page["shape"] = None
    if config_text is not None:
        _keep_config(repo, config_text)
        try:
            shape = shape_from_config(json.loads(config_text))
        except ModelError as exc:
            page["shape_note"] = str(exc)
        else:
            page["shape"] = {"architecture": shape.architecture, "params": shape.params, "layers": shape.layers,
                             "hidden": shape.hidden, "heads": shape.heads, "kv_heads": shape.kv_heads,
                             "context": shape.context, "vocab": shape.vocab,
                             "params_b": round(shape.params / 1e9, 3)}
    template = None
    if "chat_template.jinja" in names:
        template = read_text(access, repo, "chat_template.jinja", rev)
    elif "tokenizer_config.json" in names:
        try:
            template = json.loads(read_text(access, repo, "tokenizer_config.json", rev) or "{}").get("chat_template")
        except json.JSONDecodeError:
            template = None
    page["chat_template"] = bool(template)
    page["chat_template_text"] = template if isinstance(template, str) else (json.dumps(template) if template
                                                                               else "")
    card = read_text(access, repo, "README.md", rev, limit=CARD_CHARS * 4) if "README.md" in names else None
    page["card"] = _card_body(card or "")
    if not page["licence"] and card:
        match = re.search(r"^license:\s*(\S+)", card, re.M)
        page["licence"] = match.group(1) if match else ""
    return page


def _card_body(card: str) -> str:
    """The card without its YAML header, cut to a readable length."""
    if card.startswith("---"):
        end = card.find("\n---", 3)
        card = card[end + 4:] if end != -1 else card
    card = card.strip()
    return card if len(card) <= CARD_CHARS else card[:CARD_CHARS] + "\n\n…"
