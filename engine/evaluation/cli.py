"""`python -m engine chat|compare|rewards`: Compare Chat and the GRPO reward check from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.evaluation.batch import CompareRequest, summary_line
from engine.evaluation.reward_check import reward_check, reward_check_line
from engine.inference.decode import Sampling


def add_parsers(sub: Any) -> None:
    chat = sub.add_parser("chat", help="the same message to two sides (base:<model>, run:<id>[@checkpoint-N])")
    chat.add_argument("left")
    chat.add_argument("right")
    chat.add_argument("message")
    chat.add_argument("--system", default="")
    chat.add_argument("--max-new-tokens", type=int, default=256)
    chat.add_argument("--temperature", type=float, default=0.0)
    chat.add_argument("--seed", type=int, default=0)
    chat.add_argument("--outputs", default="outputs")
    compare = sub.add_parser("compare", help="batch comparison: scores, general questions, leaks; saved in the run")
    compare.add_argument("left")
    compare.add_argument("right")
    compare.add_argument("--questions", default="", help="json/jsonl/csv (default: the run's validation split)")
    compare.add_argument("--split", default="auto", choices=("auto", "valid", "test"))
    compare.add_argument("--no-general", action="store_true", help="skip TuneDesk's general questions")
    compare.add_argument("--max-new-tokens", type=int, default=128)
    compare.add_argument("--outputs", default="outputs")
    compare.add_argument("--json", action="store_true")
    check = sub.add_parser("rewards", help="GRPO: base and tuned answer prompts, the run's rewards score both")
    check.add_argument("run_id")
    check.add_argument("--prompts", default="", help="json/jsonl/csv of prompts (default: the run's dataset)")
    check.add_argument("--limit", type=int, default=50, help="at most this many prompts")
    check.add_argument("--outputs", default="outputs")
    check.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from engine.access.door import Door

    door = Door.open(args.outputs)
    manager = door.manager
    if args.command == "chat":
        sampling = Sampling(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)
        shown = ["", ""]
        for left, _right in door.chat_stream(args.left, args.right, args.message, None, args.system, sampling):
            sys.stdout.write(left[len(shown[0]):])  # the left side streams; the right prints when done
            sys.stdout.flush()
            shown = [left, _right]
        print(f"\n--- {args.right} ---\n{shown[1]}")
        return 0
    if args.command == "rewards":
        result = reward_check(manager, args.run_id, args.prompts, args.limit,
                              log=lambda m: print(m, file=sys.stderr, flush=True))
        if args.json:
            print(json.dumps(result, indent=1, ensure_ascii=False))
            return 0
        print(reward_check_line(result))
        for row in result["rows"][:5]:
            print(f"\n> {row['prompt']}\n  base  [{row['base_reward']:.2f}] {row['base'][:200]!r}\n"
                  f"  tuned [{row['tuned_reward']:.2f}] {row['tuned'][:200]!r}")
        print(f"report: {manager.run(args.run_id).path / 'reward_check.json'}")
        return 0

    report = door.compare_now(CompareRequest(args.left, args.right, args.questions, args.split,
                                                       not args.no_general, args.max_new_tokens))
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False, default=str))
        return 0

    print(f"{report['left']} → {report['right']}: {summary_line(report['summary'])}")
    print(f"report: {report['saved']['json']}\n        {report['saved']['csv']}")
    return 0
