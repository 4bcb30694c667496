"""A run's lineage as a graph across runs: base model and datasets → the runs it continues → the run →
its checkpoints → its exports, and the runs that continue it, each node with its key facts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.runs.compare import report_scores
from engine.runs.lineage import read_lineage
from engine.runs.rundir import RunDir, read_json

MAX_DEPTH = 20  # runs continuing runs: far more than anyone stacks, and no loop can hang a reader


@dataclass
class Node:
    id: str
    kind: str  # base | dataset | run | checkpoint | export
    label: str
    facts: dict[str, Any] = field(default_factory=dict)


def _short(digest: str | None) -> str | None:
    return digest[:12] if digest else None


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[dict[str, str]] = []

    def node(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def edge(self, source: str, target: str, kind: str) -> None:
        if {"from": source, "to": target, "kind": kind} not in self.edges:
            self.edges.append({"from": source, "to": target, "kind": kind})


def _run_node(graph: _Graph, run: RunDir) -> str:
    """The run with its sources; returns its node id."""
    lineage, status = read_lineage(run), run.status()
    method = f"{lineage.get('method', '?')}/{lineage.get('finetuning_type', '?')}"
    facts = {"state": status.get("state"), "method": method,
             "final_loss": status.get("final_loss"), "settings_sha256": _short(lineage.get("settings_sha256")),
             "scores": report_scores(run)}
    reward = read_json(run.path / "reward_check.json", None)
    if isinstance(reward, dict) and "tuned" in reward:
        facts["reward"] = {"base": reward["base"].get("reward"), "tuned": reward["tuned"].get("reward")}
    me = graph.node(Node(f"run:{run.run_id}", "run", run.run_id, facts))
    base = lineage.get("base")
    if base:
        weights = [w["sha256"] for w in base.get("weights", [])]
        key = f"base:{base['model']}@{base.get('revision') or (weights[0][:12] if weights else '?')}"
        graph.edge(graph.node(Node(key, "base", base["model"], {
            "source": base.get("source"), "revision": base.get("revision"), "folder": base.get("folder"),
            "weights_sha256": [_short(w) for w in weights]})), me, "trained")
    for data in lineage.get("datasets", []):
        hashes = [f["sha256"] for f in data.get("files", [])]
        key = f"dataset:{data['spec']}@{hashes[0][:12] if hashes else data.get('hub', '')}"
        graph.edge(graph.node(Node(key, "dataset", data["spec"], {
            "sha256": [_short(h) for h in hashes], "hub": data.get("hub"), "rows_used": data.get("rows_used"),
            "format": data.get("format")})), me, "data")
    return me


def lineage_graph(run: RunDir) -> dict[str, Any]:
    graph = _Graph()
    me = _run_node(graph, run)
    # up: the runs this one continues, each from the checkpoint it was continued from
    child, current = me, run
    for _ in range(MAX_DEPTH):
        parent = read_lineage(current).get("parent") or current.status().get("parent")
        if not parent:
            break
        if not parent.get("run_id"):
            graph.edge(graph.node(Node(f"adapter:{parent['folder']}", "adapter", parent["spec"],
                                       {"folder": parent["folder"]})), child, "continued")
            break
        current = RunDir(run.path.parent / parent["run_id"])
        if not current.status_path.is_file():
            graph.edge(graph.node(Node(f"run:{parent['run_id']}", "run", parent["run_id"], {"state": "deleted"})),
                       child, "continued")
            break
        source = _run_node(graph, current)
        if parent.get("point", "final") != "final":
            point = graph.node(Node(f"{source}@{parent['point']}", "checkpoint", parent["point"]))
            graph.edge(source, point, "saved")
            source = point
        graph.edge(source, child, "continued")
        child = f"run:{current.run_id}"
    # down: checkpoints, exports and the runs that continue this one
    def checkpoint(point: str) -> str:
        """A checkpoint of this run, under it even where it has since been pruned."""
        if point == "final":
            return me
        node = graph.node(Node(f"{me}@{point}", "checkpoint", point))
        graph.edge(me, node, "saved")
        return node

    for folder in run.checkpoints():
        checkpoint(folder.name)
    lineage = read_lineage(run)
    for export in lineage.get("exports", []):
        source = checkpoint(export.get("checkpoint", "final"))
        label = export["format"] + (f" {export['quant']}" if export.get("quant") else "")
        graph.edge(source, graph.node(Node(f"export:{export['destination']}", "export", label, {
            "destination": export["destination"], "files": [{"name": f["name"], "sha256": _short(f["sha256"])}
                                              for f in export.get("files", [])],
            "check": export.get("check"), "pushed": export.get("pushed")})), "exported")
    for other in sorted(Path(run.path.parent).iterdir()):
        parent = (read_json(other / "status.json", {}) or {}).get("parent") or {}
        if parent.get("run_id") == run.run_id:
            graph.edge(checkpoint(parent.get("point", "final")), _run_node(graph, RunDir(other)), "continued")
    return {"run_id": run.run_id, "lineage": lineage, "nodes": [asdict(n) for n in graph.nodes.values()],
            "edges": graph.edges}


def node_depths(graph: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Each node's longest path from a root (its column when drawn) and the nodes it comes from."""
    nodes = [n["id"] for n in graph["nodes"]]
    sources: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in graph["edges"]:
        sources[edge["to"]].append(edge["from"])
    depth = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # the graph has no cycle, so this settles
        changed = False
        for node, froms in sources.items():
            deepest = max((depth[f] + 1 for f in froms), default=0)
            if deepest > depth[node]:
                depth[node], changed = deepest, True
        if not changed:
            break
    return depth, sources


def node_facts(node: dict[str, Any]) -> str:
    facts = {k: v for k, v in node["facts"].items() if v not in (None, [], {}, "")}
    return ", ".join(f"{k} {f'{v:.4g}' if isinstance(v, float) else v}" for k, v in facts.items())


def lineage_lines(graph: dict[str, Any], kinds: dict[str, str] | None = None) -> list[str]:
    """The graph as an indented tree, sources first: what a terminal or a page shows. Each node sits under
    its deepest source (a continued run under the checkpoint it came from, not beside its base model), and
    names its other sources. `kinds` names each kind of node in the reader's language."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    depth, sources = node_depths(graph)
    under: dict[str, list[str]] = {n: [] for n in nodes}
    for node, froms in sources.items():
        if froms:
            under[max(froms, key=lambda f: depth[f])].append(node)

    def name(node_id: str) -> str:
        node = nodes[node_id]
        return f"{(kinds or {}).get(node['kind'], node['kind'])} **{node['label']}**"

    lines: list[str] = []

    def walk(node_id: str, level: int) -> None:
        facts = node_facts(nodes[node_id])
        others = [f for f in sources[node_id] if f != max(sources[node_id], key=lambda f: depth[f])]
        also = f" (+ {', '.join(name(f) for f in others)})" if others else ""
        lines.append(f"{'  ' * level}- {name(node_id)}{also}" + (f": {facts}" if facts else ""))
        for child in under[node_id]:
            walk(child, level + 1)

    for root in (n for n in nodes if not sources[n]):
        walk(root, 0)
    return lines
