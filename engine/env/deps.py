"""The dependency matrix: every package TuneDesk needs, the version required and the one installed."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.locations import REQUIREMENTS

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|>=|~=)?\s*([^\s#;]+)?")


def _parse(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def dependency_matrix(requirements: Path = REQUIREMENTS) -> list[dict[str, Any]]:
    rows = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = REQUIREMENT.match(line)
        if not match or line.strip().startswith(("#", "-")):
            continue
        name, op, wanted = match.group(1), match.group(2) or "", match.group(3) or ""
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None:
            status = "missing"
        elif op == "==" and _parse(installed) != _parse(wanted) or op == ">=" and _parse(installed) < _parse(wanted):
            status = "warning"
        else:
            status = "ok"
        spec = f"{name}{op}{wanted}"
        rows.append({"package": name, "required": f"{op}{wanted}" if op else "any", "installed": installed,
                     "status": status, "fix": "" if status == "ok" else f'pip install "{spec}"'})
    return rows
