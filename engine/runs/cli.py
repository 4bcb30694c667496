"""`python -m engine compare-runs RUN_ID RUN_ID …` (runs side by side) and `python -m engine lineage RUN_ID`
(where a run came from and what came out of it), from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.runs.lineage_graph import lineage_lines
from engine.runs.queue import RunManager
from engine.runs.rundir import loss_text


def add_parser(sub: Any) -> None:
    compare = sub.add_parser("compare-runs", help="two or more runs side by side: losses, scores, differing settings")
    compare.add_argument("run_ids", nargs="+")
    compare.add_argument("--json", action="store_true", help="print everything, curves included, as JSON")
    compare.add_argument("--outputs", default="outputs")
    label = sub.add_parser("label", help="give a run a name and tags (its id stays)")
    label.add_argument("run_id")
    label.add_argument("--name", help="(not given: kept)")
    label.add_argument("--tags", help="comma-separated; '' clears them (not given: kept)")
    label.add_argument("--outputs", default="outputs")
    lineage = sub.add_parser("lineage", help="where a run came from and what came out of it")
    lineage.add_argument("run_id")
    lineage.add_argument("--json", action="store_true", help="the graph and lineage.json as JSON")
    lineage.add_argument("--outputs", default="outputs")


def run(args: argparse.Namespace) -> int:
    if args.command == "label":
        print(json.dumps(RunManager(args.outputs).label(args.run_id, args.name, args.tags), ensure_ascii=False))
        return 0
    if args.command == "lineage":
        graph = RunManager(args.outputs).lineage(args.run_id)
        print(json.dumps(graph, indent=1, ensure_ascii=False) if args.json else "\n".join(lineage_lines(graph)))
        return 0
    result = RunManager(args.outputs).compare(args.run_ids)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    print(f"{'run id':<52} {'state':<10} {'method':<12} {'final loss':>10} {'best eval':>16}  scores")
    for r in result["runs"]:
        best = (f"{loss_text(r['best_eval_loss'])} @{r['best_eval_step']}" if r["best_eval_loss"] is not None
                else "—")
        scores = ", ".join(f"{k} {v}" for k, v in r["scores"].items()) or "—"
        print(f"{r['run_id']:<52} {r['state']:<10} {r['method']:<12} {loss_text(r['final_loss']):>10} {best:>16}  "
              f"{scores}")
    print("\nsettings that differ:" if result["differences"] else "\nno setting differs")
    for diff in result["differences"]:
        print(f"  {diff['field']}: " + " | ".join(json.dumps(v, ensure_ascii=False) for v in diff["values"].values()))
    return 0
