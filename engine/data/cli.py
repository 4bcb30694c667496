"""`python -m engine inspect|preview|clean`: the Dataset Explorer from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.config.field_info import DEFAULT_MODEL
from engine.config.knob_fields import MIX_STRATEGIES
from engine.data.clean import CleanOptions


def add_parsers(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("dataset", help="file, folder, folder:entry or hub id; several, comma-separated, are read as "
                       "a run mixes them")
        p.add_argument("--format", default="auto", help="auto (default) or a format name")
        p.add_argument("--columns", default="", help='column mapping as JSON, e.g. \'{"prompt": "question"}\'')
        p.add_argument("--model", default=DEFAULT_MODEL, help="model whose tokenizer and chat template render the data")
        p.add_argument("--max-len", type=int, default=1024)
        p.add_argument("--outputs", default="outputs")
        p.add_argument("--mix", default="", help="with several datasets: each one's share, e.g. 0.7,0.3")
        p.add_argument("--mix-strategy", default="concat", choices=MIX_STRATEGIES)
        p.add_argument("--mask-history", action="store_true", help="only the last assistant turn is trained")

    inspect = sub.add_parser("inspect", help="format, bad rows and token-length statistics of a dataset")
    common(inspect)
    inspect.add_argument("--token-sample", type=int, default=10_000, help="rows measured in tokens (0 = all)")
    inspect.add_argument("--json", action="store_true", help="print the full result as JSON")
    preview = sub.add_parser("preview", help="rows as the trainer sees them: [trained] and {cut} tokens marked")
    common(preview)
    preview.add_argument("--page", type=int, default=1)
    preview.add_argument("--page-size", type=int, default=2)
    clean = sub.add_parser("clean", help="deduplicate, drop bad rows, split and save into <outputs>/datasets/NAME")
    common(clean)
    clean.add_argument("--name", required=True)
    clean.add_argument("--dedupe", choices=("none", "exact", "normalized"), default="exact")
    clean.add_argument("--keep-bad", action="store_true", help="refuse to save if any row is bad")
    clean.add_argument("--min-tokens", type=int, default=0)
    clean.add_argument("--max-tokens", type=int, default=0)
    clean.add_argument("--no-shuffle", action="store_true")
    clean.add_argument("--seed", type=int, default=42)
    clean.add_argument("--valid", type=float, default=0.0, help="validation share (<1) or rows")
    clean.add_argument("--test", type=float, default=0.0, help="test share (<1) or rows")
    clean.add_argument("--overwrite", action="store_true")


def run(args: argparse.Namespace) -> int:
    from engine.data.explorer import DatasetChoice, DatasetExplorer

    explorer = DatasetExplorer(args.outputs)
    columns = json.loads(args.columns) if args.columns else {}
    choice = DatasetChoice(args.dataset, args.format, columns, args.model, args.max_len,
                           mask_history=args.mask_history, mix=args.mix, mix_strategy=args.mix_strategy)
    if args.command == "inspect":
        stats = explorer.inspect(choice, args.token_sample, _Progress())
        print(file=sys.stderr)
        data = stats.to_dict()
        if args.json:
            print(json.dumps(data, ensure_ascii=False, indent=1))
            return 0
        print(f"{stats.name}: {stats.format} ({'; '.join(stats.evidence)})")
        for part in stats.mix:
            print(f"mix: {part['dataset']} {part['share']:.1%} of the training rows ({part['used']:,} of its "
                  f"{part['rows']:,})")
        print(f"rows {stats.rows:,}  usable {stats.usable:,}  bad {stats.bad_count:,}  duplicates "
              f"{stats.duplicates_exact:,} exact / {stats.duplicates_normalized:,} normalised  ({stats.seconds} s)")
        for bad in stats.bad[:10]:
            print(f"  bad: {bad.where}: {bad.reason}")
        print(f"language {stats.language}  turns {stats.turns}")
        if stats.token_rows:
            which = "all rows" if stats.token_exact else f"a sample of {stats.token_rows:,} rows"
            print(f"tokens ({which}): {stats.truncated:,} samples truncated at {stats.max_len}, "
                  f"{stats.answer_tokens_lost:,} answer tokens lost; suggested max length "
                  f"{stats.suggested_max_len['p95']} (95%) / {stats.suggested_max_len['p99']} (99%)")
        return 0
    if args.command == "preview":
        page = explorer.preview(choice, args.page, args.page_size)
        print(f"page {page['page']}/{page['pages']} · {page['rows_total']} rows · {page['format']} · "
              f"{page['template']}")
        marks = {"trained": "[{}]", "masked": "{}", "cut": "{{{}}}"}
        for row in page["rows"]:
            print(f"\n--- row {row['index']} · {row['where']}" + (f" · ERROR {row['error']}" if row["error"] else ""))
            for ex in row["examples"]:
                print("".join(marks[k].format(text) for text, k in ex["pieces"]))
        return 0
    options = CleanOptions(args.name, args.dedupe, not args.keep_bad, args.min_tokens, args.max_tokens,
                           not args.no_shuffle, args.seed, args.valid, args.test, args.overwrite)
    result = explorer.clean(choice, options, _Progress())
    print(file=sys.stderr)
    print(f"saved {result.train} train / {result.valid} valid / {result.test} test rows to {result.folder} "
          f"({result.bad} bad rows dropped, {result.duplicates} duplicates, {result.filtered} filtered)")
    print(f"train on it with: dataset: {result.folder}")
    return 0


class _Progress:
    """A JobContext stand-in for the terminal: one updating line on stderr."""

    def progress(self, fraction: float, message: str = "") -> None:
        print(f"\r{100 * fraction:5.1f}%  {message:<60}", end="", file=sys.stderr, flush=True)

    def check(self) -> None:
        pass
