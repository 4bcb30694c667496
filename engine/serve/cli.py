"""`python -m engine serve`: the OpenAI-compatible endpoint on its own, without the web UI."""

from __future__ import annotations

import argparse
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve the bundled model and every run over the OpenAI API (/v1)")
    serve.add_argument("--host", default="127.0.0.1", help="address to serve on (another than loopback needs a key)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", action="append", default=[], help="a key callers must send (repeatable)")
    serve.add_argument("--api-rate", type=int, default=None,
                       help="requests a minute per key (default: 60 with keys, no limit without; 0: no limit)")
    serve.add_argument("--outputs", default="outputs")


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.access.door import Door
    from engine.serve.keys import access_for, announce

    keys, limit, generated = access_for(args.api_key, args.host not in LOOPBACK, args.api_rate)
    api = Door.open(args.outputs).serving(keys, limit)
    print(announce(f"http://{args.host}:{args.port}", keys, limit, generated), flush=True)
    uvicorn.run(api, host=args.host, port=args.port, log_level="warning")
    return 0
