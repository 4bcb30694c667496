"""TuneDesk: fine-tune open LLMs on your own PC, in the browser.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--auth user:pass | --auth-file FILE]
                  [--outputs outputs] [--allow-dir DIR ...] [--lang en|zh] [--no-browser]

The page starts on gradio alone; torch, transformers and peft load on the first run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="TuneDesk: local LLM fine-tuning")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for your LAN)")
    parser.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio link")
    parser.add_argument("--auth", help="user:password required to open the app")
    parser.add_argument("--auth-file", help="file with one user:password per line")
    parser.add_argument("--outputs", default="outputs", help="folder for runs and saved configs")
    parser.add_argument("--allow-dir", action="append", default=[],
                        help="with --share/--auth, another folder whose files may be used (repeatable)")
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="interface language")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    return parser.parse_args(argv)


def read_auth(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = []
    lines = [args.auth] if args.auth else []
    if args.auth_file:
        lines += Path(args.auth_file).read_text(encoding="utf-8").splitlines()
    for line in lines:
        user, sep, password = line.strip().partition(":")
        if line.strip() and (not sep or not user or not password):
            sys.exit(f"error: auth entry {line.strip()!r} must be user:password")
        if sep:
            pairs.append((user, password))
    return pairs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    auth = read_auth(args)
    if args.share and not auth:
        password = secrets.token_urlsafe(9)
        auth = [("tunedesk", password)]
        print(f"--share without --auth: log in as user 'tunedesk' with password {password}", flush=True)
    confine = bool(args.share or auth)

    from tabs import build_app
    from tabs.context import AppContext

    ctx = AppContext.create(args.outputs, lang=args.lang, confine=confine, allow_dirs=args.allow_dir)
    demo = build_app(ctx)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, share=args.share, auth=auth or None,
        inbrowser=not args.no_browser, allowed_paths=[str(ctx.manager.outputs)], show_error=True,
        footer_links=["api"],
    )


if __name__ == "__main__":
    main()
