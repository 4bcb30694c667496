"""The tree's shape, checked from the code's own imports: layers without cycles, small modules, one
door for access checks, no gradio in the engine, and a development map in the README that matches."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

ENGINE = ROOT / "engine"
MAX_LINES = 400
MAX_TOP_LEVEL = 6
# what only the engine's door may call: a tab that calls one of these checks access itself
ACCESS_CHECKS = re.compile(r"\b(check_path|check_config|check_code|PathGuard|POLICY\.check|\.guard\b)")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def import_graph(package: Path, root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the engine modules it imports, wherever the import statement stands (a function-level
    import hides a cycle from Python's start-up, not from the design)."""
    files = {module_name(p, root): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if _type_checking_only(node, parents):
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from engine.data import cli` imports the module engine.data.cli
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_engine_has_no_import_cycle():
    graph = import_graph(ENGINE)
    assert len(graph) > 50  # the whole engine was read
    found = cycles(graph)
    described = ["; ".join(f"{a} -> {', '.join(sorted(graph[a] & set(c)))}" for a in c) for c in found]
    assert found == [], "\n".join(described)


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path: Path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg.a import other\n    return other\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n")
    graph = import_graph(package, root=tmp_path)
    assert graph["pkg.c"] == set()  # an import for type checkers only runs nowhere
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in [*ENGINE.rglob("*.py"), *(ROOT / "tabs").rglob("*.py"),
                                                   ROOT / "app.py"]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_engine_top_level_holds_at_most_six_modules():
    top = sorted(p.name for p in ENGINE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top


def test_no_access_check_is_written_in_the_tabs():
    """Paths and code execution are checked behind the engine's door (engine/access/door.py), which the
    UI, the API and the CLI all call; a tab that checks for itself is a hole when another forgets."""
    offenders = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in (ROOT / "tabs").rglob("*.py")
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if ACCESS_CHECKS.search(line)]
    assert offenders == []


def test_the_readme_map_names_every_part_of_the_engine():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = [f"engine/{p.name}/" for p in ENGINE.iterdir() if p.is_dir() and any(p.glob("*.py"))]
    parts += [f"engine/{p.name}" for p in ENGINE.glob("*.py") if p.name != "__init__.py"]
    missing = [part for part in sorted(parts) if not re.search(rf"(?<![\w/]){re.escape(part)}(?![\w])", readme)]
    assert missing == []
    named = set(re.findall(r"(?<![\w/])(engine/[\w/]*[\w](?:\.py)?/?)", readme))
    gone = sorted(n for n in named if not (ROOT / n.rstrip("/")).exists())
    assert gone == []


def test_engine_never_imports_gradio():
    offenders = [str(p.relative_to(ROOT)) for p in ENGINE.rglob("*.py")
                 if any(line.strip().startswith(("import gradio", "from gradio"))
                        for line in p.read_text().splitlines())]
    assert offenders == []
    code = ("import sys, engine.runs.queue, engine.runs.execute, engine.training, engine.models.resolve, "
            "engine.access.door, engine.env.monitor, engine.__main__\nprint('gradio' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_the_page_starts_without_the_training_libraries(tmp_path):
    """torch, transformers and peft load on first use (a run, a preview, a chat), never to show the page:
    torch alone adds about 1.5 s to every start on 2 cores."""
    code = ("import sys; from tabs import build_app; from tabs.context import AppContext; "
            f"build_app(AppContext.create({str(tmp_path)!r}, lang='en', confine=False, allow_dirs=[], "
            "allow_code=False)); print(sorted(m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
