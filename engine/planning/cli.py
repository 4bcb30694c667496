"""`python -m engine plan MODEL [DATASET]`: the Train tab's "Fit to this machine", in a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.config.train_config import TrainConfig
from engine.config.yaml_io import load_yaml, parse_overrides
from engine.sizing.planner import GOALS, PlanGoal


def add_parser(sub: Any) -> None:
    plan = sub.add_parser("plan", help="fit to this machine: settings that fit the memory, with a measured step time")
    plan.add_argument("model", help="catalogue name, hub id or local model folder")
    plan.add_argument("dataset", nargs="?", default="", help="data file, folder or hub dataset (its token lengths "
                      "set max_seq_length)")
    plan.add_argument("--method", default="sft", help="sft, pt, dpo, kto, orpo, simpo or grpo")
    plan.add_argument("--goal", default="fastest", choices=GOALS)
    plan.add_argument("--effective-batch", type=int, default=16, help="batch × accumulation × GPUs to keep")
    plan.add_argument("--config", help="a YAML config to start from (its model and dataset are replaced by the "
                      "arguments above when given)")
    plan.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    plan.add_argument("--memory-gb", type=float, default=0.0, help="plan for this much memory instead of the "
                      "machine's")
    plan.add_argument("--no-measure", action="store_true", help="do not measure a step (estimate it instead)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--yaml", action="store_true", help="print the planned config as YAML to train with")
    plan.add_argument("--outputs", default="outputs")


def request_config(args: argparse.Namespace) -> TrainConfig:
    base = load_yaml(args.config) if args.config else TrainConfig()
    changes: dict[str, Any] = {"method": args.method} if not args.config or args.method != "sft" else {}
    if args.model:
        changes["model_name_or_path"] = args.model
    if args.dataset:
        changes["dataset"] = args.dataset
    return base.replace(**changes, **parse_overrides(args.set))


def run(args: argparse.Namespace) -> int:
    from engine.access.door import Door
    from engine.planning.fit_plan import FitRequest

    door = Door.open(args.outputs)
    plan = door.fit_plan(FitRequest(request_config(args), PlanGoal(args.goal, args.effective_batch),
                                    measure=not args.no_measure, memory_gb=args.memory_gb))
    if args.json:
        print(json.dumps(plan.to_dict(args.lang), indent=1, ensure_ascii=False))
        return 0 if plan.settled.fits else 1
    if args.yaml:
        print(plan.config.to_yaml())
        return 0 if plan.settled.fits else 1
    data = plan.to_dict(args.lang)
    for change in data["changes"]:
        print(f"  {change['field']}: {change['before']} → {change['after']}")
    for reason in data["reasons"]:
        print(f"- {reason}")
    return 0 if plan.settled.fits else 1
