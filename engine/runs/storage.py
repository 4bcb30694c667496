"""Disk problems named plainly: a full disk, and an outputs folder that is read-only or has vanished.

Training writes a lot (checkpoints, final models, exports), and the place it writes to can fill up or
go away under a running app (an unplugged drive, a folder deleted by hand). Each case gets a message
that says what happened, with the numbers, and what to do; never a bare OSError.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from engine.errors import StorageError

# ENOSPC: the disk is full; EFBIG: a file-size limit (ulimit -f); EDQUOT: a user's quota
FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# savers that lose the errno: torch.save ("file write failed", "unexpected pos"), safetensors (StorageFull)
FULL_TEXTS = ("no space left", "storagefull", "file too large", "disk quota", "file write failed",
              "unexpected pos")
READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def is_disk_full(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in FULL_ERRNOS:
            return True
        text = str(link).lower()
        if any(marker in text for marker in FULL_TEXTS):
            return True
    return False


def mib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def space_line(path: Path) -> str:
    """'0.2 MiB free of 24.0 MiB on /mnt/x' for the disk that holds `path` (or its nearest parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return f"{mib(usage.free)} free of {mib(usage.total)} on {mount_point(probe)}"


def mount_point(path: Path) -> str:
    path = Path(os.path.realpath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def ensure_writable(folder: Path, what: str = "outputs folder") -> bool:
    """Create `folder` if it is missing and prove it can be written. Returns True if it had to be created
    (it vanished, or never existed). Raises StorageError with the fix otherwise."""
    folder = Path(folder)
    created = not folder.is_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StorageError(storage_message(exc, folder, what)) from exc
    return created


def storage_message(exc: OSError, folder: Path, what: str = "outputs folder") -> str:
    """One line for an OSError met while writing under `folder`."""
    if is_disk_full(exc):
        return (f"disk full: cannot write to the {what} {folder} ({space_line(folder)}). Free space on that "
                "disk, or start TuneDesk with --outputs on a larger one.")
    if exc.errno in READ_ONLY_ERRNOS:
        kind = "read-only" if exc.errno == errno.EROFS else "not writable (permission denied)"
        return (f"the {what} {folder} is {kind}. Start TuneDesk with --outputs pointing to a folder you can "
                "write to, or make this one writable.")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EEXIST):
        return (f"the {what} {folder} is missing and cannot be created ({exc.strerror}: {exc.filename}). Start "
                "TuneDesk with --outputs pointing to a folder you can write to.")
    return f"cannot write to the {what} {folder}: {exc.strerror or exc}. Check the disk, or use --outputs."
