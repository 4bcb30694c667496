"""One file over HTTP into a `.part` file that survives a dropped connection or a killed app: the next
attempt asks for the rest with a Range request. The checksum the hub publishes is checked before the
file takes its final name, so a damaged download never looks complete."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from engine.errors import ModelError

CHUNK = 1 << 20
RETRIES = 3


def fetch(url: str, headers: dict[str, str], part: Path, size: int, sha256: str,
          on_bytes: Callable[[int], None], name: str = "") -> Path:
    """Download `url` into `part`, resuming what is there; returns `part` once complete and checked.

    `on_bytes` is called with each chunk's length (also the resumed length, once); it raises to cancel,
    which leaves the part file in place for the next attempt."""
    import httpx

    name = name or part.name.removesuffix(".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if size and have > size:  # a different file once had this name
        part.unlink()
        have = 0
    if have:
        on_bytes(have)
    attempt = 0
    while not size or have < size:
        request = dict(headers)
        if have:
            request["Range"] = f"bytes={have}-"
        try:
            with httpx.stream("GET", url, headers=request, follow_redirects=True,
                              timeout=httpx.Timeout(15.0, read=60.0)) as response:
                if response.status_code == 416 and have:  # asked beyond the end: nothing left to fetch
                    break
                if response.status_code in (401, 403):
                    raise ModelError(f"the hub refused {name} (HTTP {response.status_code}):"
                                     " a gated or private model needs an access token")
                response.raise_for_status()
                if have and response.status_code == 200:  # the server ignored Range: start over
                    on_bytes(-have)
                    have = 0
                with part.open("ab" if have else "wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        _write(out, chunk, part)
                        have += len(chunk)
                        on_bytes(len(chunk))
            if not size:
                break
            if have < size:
                raise httpx.ReadError(f"connection closed after {have} of {size} bytes")
        except httpx.HTTPError as exc:
            attempt += 1
            if attempt > RETRIES:
                raise ModelError(f"downloading {name} failed after {RETRIES} retries "
                                 f"({exc}); start the download again to continue from {have:,} bytes") from exc
    if size and have != size:
        raise ModelError(f"{name}: received {have:,} bytes, expected {size:,}")
    if sha256 and file_sha256(part) != sha256.lower():
        part.unlink()
        raise ModelError(f"{name} failed its checksum (the hub publishes sha256 "
                         f"{sha256[:12]}…): the damaged copy was removed; start the download again")
    return part


def _write(out: object, chunk: bytes, part: Path) -> None:
    try:
        out.write(chunk)  # type: ignore[attr-defined]
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            free = shutil.disk_usage(part.parent).free
            raise ModelError(f"disk full while downloading into {part.parent} ({free / 2**30:.2f} GiB free): free "
                             "some space (Model Hub → models on disk lists what can go) and start the download "
                             "again; it continues where it stopped") from exc
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK * 4):
            digest.update(block)
    return digest.hexdigest()


def place(part: Path, target: Path) -> None:
    """Give a finished part file its final name (a copy when they live on different disks)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(part, target)
    except OSError:
        shutil.move(str(part), target)
