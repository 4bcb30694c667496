"""A hub dataset as files: the data files of a dataset repository on Hugging Face or ModelScope, fetched
with resume and the published checksums (the same `fetch` as a model's files) into TuneDesk's cache.

TuneDesk's own readers then read them, so a hub dataset is detected, previewed, inspected and trained
exactly as the same files on disk would be; a second use reads the cached copy without asking the hub.
`auto` tries the hubs in the order the Model Hub uses (ModelScope first in mainland China) and falls back
to the other when one fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.errors import DataError, ModelError, TuneDeskError
from engine.hub.clients import HUB_NAMES, HubAccess, RemoteFile, accesses, auth_headers
from engine.hub.fetch import fetch, place
from engine.locations import cache_root

DATA_FILES = (".json", ".jsonl", ".csv", ".tsv", ".parquet")
DONE = ".complete.json"  # written once every file of the dataset is in place


@dataclass(frozen=True)
class HubDataset:
    repo: str
    hub: str  # hf | modelscope
    folder: Path
    files: list[str]


def download_dataset(repo: str, source: str = "auto", subset: str = "", endpoint: str = "", token: str = "",
                     log: Callable[[str], None] = lambda _: None,
                     progress: Callable[[int, int], None] | None = None) -> HubDataset:
    """The dataset's data files in the cache (fetched now unless an earlier download completed);
    `progress(bytes so far, bytes in all)` follows the download and may raise to cancel it."""
    errors: list[str] = []
    for access in accesses(source, endpoint, token):
        try:
            return _download(repo, access, subset, log, progress or (lambda _done, _total: None))
        except DataError:
            raise  # the dataset itself is unusable (no data files, no such subset): another hub will not help
        except TuneDeskError as exc:
            errors.append(f"{HUB_NAMES[access.hub]}: {exc}")
            log(f"dataset {repo}: {HUB_NAMES[access.hub]} failed ({exc})")
    raise DataError(f"dataset '{repo}' could not be downloaded — " + "; ".join(errors))


def _download(repo: str, access: HubAccess, subset: str, log: Callable[[str], None],
              progress: Callable[[int, int], None]) -> HubDataset:
    access.probe()
    revision, files = _list(repo, access)
    chosen = _data_files(repo, files, subset)
    folder = cache_root() / "hub-datasets" / access.hub / repo / revision
    done = folder / DONE
    if done.is_file() and json.loads(done.read_text(encoding="utf-8")).get("files") == [f.path for f in chosen]:
        return HubDataset(repo, access.hub, folder, [f.path for f in chosen])
    total = sum(f.size for f in chosen)
    log(f"dataset {repo}: downloading {len(chosen)} file(s), {total / 2**20:,.1f} MiB from {HUB_NAMES[access.hub]}")
    done_bytes = [0]

    def count(n: int) -> None:
        done_bytes[0] += n
        progress(done_bytes[0], total)

    for remote in chosen:
        target = folder / remote.path
        if target.is_file() and target.stat().st_size == remote.size:
            count(remote.size)
            continue
        part = target.with_name(target.name + ".part")
        fetch(_file_url(access, repo, remote.path, revision), auth_headers(access), part, remote.size, remote.sha256,
              count, name=f"{repo}/{remote.path}")
        place(part, target)
    done.write_text(json.dumps({"files": [f.path for f in chosen]}), encoding="utf-8")
    return HubDataset(repo, access.hub, folder, [f.path for f in chosen])


def _list(repo: str, access: HubAccess) -> tuple[str, list[RemoteFile]]:
    try:
        if access.hub == "hf":
            from huggingface_hub import HfApi

            info = HfApi(endpoint=access.url, token=access.token or None).dataset_info(repo, files_metadata=True)
            return info.sha or "main", [RemoteFile(s.rfilename, int(s.size or (s.lfs.size if s.lfs else 0) or 0),
                                                   s.lfs.sha256 if s.lfs else "") for s in info.siblings or []]
        from modelscope_hub import HubApi

        listed: list[Any] = HubApi(endpoint=access.url, token=access.token or None).list_repo_files(repo, "dataset")
        return "master", [RemoteFile(f.path, int(f.size or 0), getattr(f, "sha256", "") or "") for f in listed
                          if getattr(f, "type", "blob") != "tree"]
    except Exception as exc:  # the client libraries raise many types; the hub's answer is what matters
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "404" in text or "not found" in text.lower():
            raise ModelError(f"no dataset {repo} on {HUB_NAMES[access.hub]} (or it is private: give a token)") from exc
        raise ModelError(f"{HUB_NAMES[access.hub]} ({access.url}) failed listing dataset {repo}: {text}") from exc


def _data_files(repo: str, files: list[RemoteFile], subset: str) -> list[RemoteFile]:
    data = [f for f in files if f.path.lower().endswith(DATA_FILES) and not f.path.rsplit("/", 1)[-1].startswith(".")
            and f.path.rsplit("/", 1)[-1] != "dataset_infos.json"]
    if subset:
        inside = [f for f in data if f"/{subset}/" in f"/{f.path}"]
        if not inside:
            folders = sorted({f.path.split("/")[0] for f in data if "/" in f.path})
            raise DataError(f"dataset '{repo}' has no subset '{subset}'"
                            + (f"; its folders are: {', '.join(folders[:12])}" if folders else ""))
        data = inside
    if not data:
        raise DataError(f"dataset '{repo}' holds no {', '.join(DATA_FILES)} file (a dataset made of a loading "
                        "script is not run by TuneDesk): download its data and load the files")
    return data


def _file_url(access: HubAccess, repo: str, path: str, revision: str) -> str:
    if access.hub == "hf":
        from huggingface_hub import hf_hub_url

        return hf_hub_url(repo, path, repo_type="dataset", revision=revision, endpoint=access.url)
    return f"{access.url}/api/v1/datasets/{repo}/repo?Revision={quote(revision)}&FilePath={quote(path)}"
