"""`python -m engine export RUN_ID`: an export from a terminal (token for --push: HF_TOKEN / MODELSCOPE_TOKEN)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from engine.export.exporter import ExportRequest
from engine.export.gguf_file import QUANTS
from engine.export.kquants import K_QUANTS


def add_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="a run as a merged model, its adapter, or GGUF + Ollama Modelfile")
    export.add_argument("run_id")
    export.add_argument("--format", default="gguf", choices=("merged", "adapter", "gguf"))
    export.add_argument("--checkpoint", default="", help="checkpoint-N (default: the final model)")
    export.add_argument("--quant", default="q8_0", choices=(*QUANTS, *K_QUANTS),
                        help="k-quants (q4_k_m, …) need llama-cpp-python: pip install -r requirements-gguf.txt")
    export.add_argument("--shard-size", default="2GB")
    export.add_argument("--dest", default="", help="folder to write (default: <run>/export/<format>)")
    export.add_argument("--overwrite", action="store_true")
    export.add_argument("--push", default="", metavar="ORG/NAME", help="also push the export to this hub repo")
    export.add_argument("--hub", default="hf", choices=("hf", "modelscope"))
    export.add_argument("--public", action="store_true", help="make the pushed repo public")
    export.add_argument("--no-check", action="store_true",
                        help="skip reading the export back and comparing it with the run's own model")
    export.add_argument("--outputs", default="outputs")
    check = sub.add_parser("export-check", help="run an export's round-trip check again from its folder")
    check.add_argument("folder")
    check.add_argument("--outputs", default="outputs")


def run(args: argparse.Namespace) -> int:
    from engine.access.door import Door

    if args.command == "export-check":
        result = Door.open(args.outputs).check_export(args.folder)
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return 0 if result["ok"] else 1
    request = ExportRequest(args.run_id, args.format, args.checkpoint, args.quant, args.shard_size, args.dest,
                            args.overwrite, args.push, args.hub, not args.public, verify=not args.no_check)
    token = os.environ.get("HF_TOKEN" if args.hub == "hf" else "MODELSCOPE_TOKEN", "")

    def show(fraction: float, message: str = "") -> None:
        print(f"{fraction:4.0%} {message}", flush=True)

    result = Door.open(args.outputs).export_now(request, token, _Printer(show))
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


class _Printer:
    """A progress sink with JobContext's interface, printing instead of storing."""

    def __init__(self, show: Any):
        self.show = show

    def progress(self, fraction: float, message: str = "") -> None:
        self.show(fraction, message)

    def check(self) -> None:
        pass
