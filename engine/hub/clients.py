"""Talking to the two model hubs, Hugging Face and ModelScope, through their own client libraries:
search, a repository's facts and file list, one small file's text, and which hub to try first.

Every call is preceded by a quick reachability probe so that an offline machine gets advice within
seconds instead of a client library's minutes of retries."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from engine.errors import HubUnreachable, ModelError
from engine.hub.reach import ensure_reachable, hf_endpoint, modelscope_endpoint

SOURCES = ("auto", "hf", "modelscope")
HUB_NAMES = {"hf": "Hugging Face", "modelscope": "ModelScope"}
CHINA_TIMEZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str = ""  # large (LFS) files: the checksum the hub publishes
    etag: str = ""  # the name Hugging Face's cache stores the file under


@dataclass(frozen=True)
class HubAccess:
    """Which hub, at which address, with which token (kept in memory only, never written to disk)."""

    hub: str  # hf | modelscope
    endpoint: str = ""  # empty: HF_ENDPOINT / MODELSCOPE_DOMAIN or the public hub
    token: str = ""

    @property
    def url(self) -> str:
        if self.endpoint:
            return self.endpoint.rstrip("/")
        return hf_endpoint() if self.hub == "hf" else modelscope_endpoint()

    def probe(self) -> None:
        ensure_reachable(self.hub, self.url)


def in_mainland_china() -> bool:
    """ModelScope is usually the faster hub there. TUNEDESK_REGION=cn / other overrides the guess."""
    region = os.environ.get("TUNEDESK_REGION", "").lower()
    if region:
        return region in ("cn", "china", "zh_cn")
    tz = os.environ.get("TZ", "")
    if not tz:
        try:
            tz = os.path.realpath("/etc/localtime").split("zoneinfo/")[-1]
        except OSError:
            tz = ""
    if tz in CHINA_TIMEZONES:
        return True
    return os.environ.get("LANG", "").lower().startswith("zh_cn")


def hub_order(source: str) -> list[str]:
    if source not in SOURCES:
        raise ModelError(f"source '{source}': use auto, hf or modelscope")
    if source != "auto":
        return [source]
    return ["modelscope", "hf"] if in_mainland_china() else ["hf", "modelscope"]


def check_repo_id(repo: str) -> str:
    repo = (repo or "").strip().strip("/")
    parts = repo.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise ModelError(f"'{repo}' is not a hub model id: use the form org/name, e.g. Qwen/Qwen2.5-0.5B-Instruct")
    return repo


def hub_error(access: HubAccess, repo: str, exc: Exception) -> ModelError:
    """A client library's exception as the message a user can act on."""
    name = HUB_NAMES[access.hub]
    kind = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else kind
    if isinstance(exc, HubUnreachable):
        return exc
    if kind == "GatedRepoError" or "gated" in text.lower():
        return ModelError(f"{repo} on {name} is gated: accept its licence on the model's page, then give an access "
                          "token (the token field, or `hf auth login`)")
    if kind in ("RepositoryNotFoundError", "RevisionNotFoundError") or "404" in text or "not found" in text.lower():
        return ModelError(f"{repo} was not found on {name} (or is private: give a token). Check the spelling; "
                          "search the hub from the Model Hub tab")
    if "401" in text or "403" in text:
        return ModelError(f"{name} refused access to {repo} ({text}): check the token")
    return ModelError(f"{name} ({access.url}) failed for {repo}: {text}")


# ---- Hugging Face ---------------------------------------------------------------------------------

def _hf_api(access: HubAccess) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=access.url, token=access.token or None)


def _hf_search(access: HubAccess, query: str, limit: int) -> list[dict[str, Any]]:
    models = _hf_api(access).list_models(search=query or None, limit=limit, sort="downloads",
                                         expand=["downloads", "likes", "pipeline_tag", "lastModified", "gated",
                                                 "library_name"])
    return [{"id": m.id, "hub": "hf", "downloads": m.downloads or 0, "likes": m.likes or 0,
             "task": m.pipeline_tag or "", "updated": str(m.last_modified or "")[:10],
             "gated": bool(m.gated)} for m in models]


def _hf_info(access: HubAccess, repo: str) -> dict[str, Any]:
    info = _hf_api(access).model_info(repo, files_metadata=True)
    card = info.card_data.to_dict() if info.card_data is not None else {}
    files = [RemoteFile(s.rfilename, int(s.size or (s.lfs.size if s.lfs else 0) or 0),
                        s.lfs.sha256 if s.lfs else "", s.lfs.sha256 if s.lfs else (s.blob_id or ""))
             for s in info.siblings or []]
    return {"id": info.id, "hub": "hf", "revision": info.sha or "main", "licence": card.get("license") or "",
            "gated": bool(info.gated), "downloads": info.downloads or 0, "likes": info.likes or 0,
            "task": info.pipeline_tag or "", "tags": list(info.tags or []), "files": files}


# ---- ModelScope -----------------------------------------------------------------------------------

def _ms_api(access: HubAccess) -> Any:
    from modelscope_hub import HubApi

    return HubApi(endpoint=access.url, token=access.token or None)


def _ms_search(access: HubAccess, query: str, limit: int) -> list[dict[str, Any]]:
    page = _ms_api(access).list_repos("model", search=query or None, page_size=min(limit, 50))
    return [{"id": r.id, "hub": "modelscope", "downloads": r.downloads or 0, "likes": r.likes or 0,
             "task": ", ".join(r.tasks or []) if isinstance(r.tasks, list) else str(r.tasks or ""),
             "updated": str(r.last_modified or "")[:10], "gated": bool(r.gated)} for r in page.items]


def _ms_info(access: HubAccess, repo: str) -> dict[str, Any]:
    api = _ms_api(access)
    info = api.get_repo(repo, "model")
    files = [RemoteFile(f.path, int(f.size or 0), getattr(f, "sha256", "") or "")
             for f in api.list_repo_files(repo, "model") if getattr(f, "type", "blob") != "tree"]
    return {"id": info.id, "hub": "modelscope", "revision": "master", "licence": info.license or "",
            "gated": bool(info.gated), "downloads": info.downloads or 0, "likes": info.likes or 0,
            "task": ", ".join(info.tasks or []) if isinstance(info.tasks, list) else str(info.tasks or ""),
            "tags": list(info.tags or []), "files": files}


# ---- both -----------------------------------------------------------------------------------------

def search(query: str, access: HubAccess, limit: int = 20) -> list[dict[str, Any]]:
    access.probe()
    try:
        return (_hf_search if access.hub == "hf" else _ms_search)(access, query.strip(), limit)
    except Exception as exc:
        raise hub_error(access, query, exc) from exc


def repo_info(repo: str, access: HubAccess) -> dict[str, Any]:
    repo = check_repo_id(repo)
    access.probe()
    try:
        return (_hf_info if access.hub == "hf" else _ms_info)(access, repo)
    except Exception as exc:
        raise hub_error(access, repo, exc) from exc


def file_url(access: HubAccess, repo: str, path: str, revision: str) -> str:
    if access.hub == "hf":
        from huggingface_hub import hf_hub_url

        return hf_hub_url(repo, path, revision=revision, endpoint=access.url)
    from urllib.parse import quote

    return f"{access.url}/api/v1/models/{repo}/repo?Revision={quote(revision)}&FilePath={quote(path)}"


def auth_headers(access: HubAccess) -> dict[str, str]:
    if access.hub == "hf":
        from huggingface_hub.utils import build_hf_headers

        return build_hf_headers(token=access.token or None, library_name="tunedesk")
    return {"Authorization": f"Bearer {access.token}"} if access.token else {}


def read_text(access: HubAccess, repo: str, path: str, revision: str, limit: int = 2_000_000) -> str | None:
    """A small text file of a repository (config, tokenizer config, model card), or None if it has none."""
    import httpx

    try:
        with httpx.stream("GET", file_url(access, repo, path, revision), headers=auth_headers(access),
                          follow_redirects=True, timeout=httpx.Timeout(10.0)) as response:
            if response.status_code == 404:
                return None
            response.raise_for_status()
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    break
    except httpx.HTTPError as exc:
        raise hub_error(access, repo, exc) from exc
    return body[:limit].decode("utf-8", errors="replace")


def accesses(source: str, endpoint: str = "", token: str = "") -> list[HubAccess]:
    """The hubs to try for `source`, in order. The mirror endpoint is Hugging Face's (HF_ENDPOINT); with
    auto the token goes to Hugging Face only, so one hub's secret is never sent to the other."""
    order = hub_order(source)
    return [HubAccess(hub, endpoint.strip() if hub == "hf" else "",
                      token.strip() if hub == "hf" or source == "modelscope" else "") for hub in order]
