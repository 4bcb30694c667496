"""TuneDesk: fine-tune open LLMs on your own PC, in the browser.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--auth user:pass | --auth-file FILE]
                  [--outputs outputs] [--allow-dir DIR ...] [--allow-code] [--lang en|zh]
                  [--no-browser] [--api-key KEY ...] [--api-rate N]

The same server answers OpenAI clients at /v1 (see README: "Use a run from other programs").

The page starts on gradio alone; torch, transformers and peft load on the first run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Gradio rebuilds a pandas table of up to 10,000 past events after every event, for its /monitoring page:
# under many polling clients that work grows with every call and holds the interpreter the training
# thread needs (bench/load.py measured training 10x slower). Keep the last 500, summarised every 50.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "50")
# read by the queue every Blocks builds for itself: calling queue() again would rebuild the whole server app
# (about 0.25 s of start-up on 2 cores)
os.environ.setdefault("GRADIO_DEFAULT_CONCURRENCY_LIMIT", "4")


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
    parser.add_argument("--allow-code", action="store_true",
                        help="with --share/--auth, still allow trust_remote_code and GRPO reward files (Python "
                             "that runs on this machine)")
    parser.add_argument("--max-upload-mb", type=float, default=2048,
                        help="largest file a browser may upload (MiB); larger uploads are refused")
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="interface language")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.add_argument("--api-key", action="append", default=[],
                        help="a key OpenAI clients must send to /v1 (repeatable; with --share/--auth one is "
                             "generated and printed when none is given)")
    parser.add_argument("--api-rate", type=int, default=None,
                        help="/v1 requests a minute per key (default: 60 with keys, no limit without; 0: no limit)")
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


STARTING_PAGE = ("<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=1><title>TuneDesk</title>"
                 "<body style='font-family:sans-serif;margin:3em'><h2>TuneDesk is starting…</h2>"
                 "<p>正在启动，页面会自动刷新。 This page refreshes by itself.</p>").encode()


class _Starting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(STARTING_PAGE)

    def log_message(self, *args: object) -> None:
        pass


def free_port(host: str, start: int = 7860) -> int:
    for port in range(start, start + 100):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
                return port
            except OSError:
                continue
    raise SystemExit(f"error: no free port in {start}-{start + 99} on {host}; pass --port")


def serve_starting_page(host: str, port: int) -> ThreadingHTTPServer | None:
    """Answer at once while gradio imports (about 5 s on 2 cores); the UI takes the port over after."""
    try:
        server = ThreadingHTTPServer((host, port), _Starting)
    except OSError as exc:
        raise SystemExit(f"error: cannot listen on {host}:{port}: {exc}") from exc
    # polled every 50 ms, so handing the port over to the UI does not wait half a second
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def calm_queue(demo: object) -> None:
    """Gradio's queue polls every 1 ms when idle: about a tenth of a core, which on a 2-core machine
    slows 2-thread torch training far more than that. 20 ms keeps the UI snappy."""
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, 0.02)
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, 0.2)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    auth = read_auth(args)
    if args.share and not auth:
        password = secrets.token_urlsafe(9)
        auth = [("tunedesk", password)]
        print(f"--share without --auth: log in as user 'tunedesk' with password {password}", flush=True)
    confine = bool(args.share or auth)
    port = args.port or free_port(args.host)
    starting = serve_starting_page(args.host, port)
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{port}"
    print(f"TuneDesk starting at {url}", flush=True)
    if not args.no_browser:
        webbrowser.open(url)

    from engine.errors import StorageError
    from tabs import CSS, build_app
    from tabs.context import AppContext

    try:
        ctx = AppContext.create(args.outputs, lang=args.lang, confine=confine, allow_dirs=args.allow_dir,
                                 allow_code=args.allow_code)
    except StorageError as exc:
        starting.shutdown()
        starting.server_close()
        sys.exit(f"TuneDesk cannot start: {exc}")
    demo = build_app(ctx)
    starting.shutdown()
    starting.server_close()
    calm_queue(demo)
    from starlette.middleware import Middleware

    from engine.serve.keys import access_for, announce
    from engine.serve.mount import ServeMount
    from tabs.login_guard import LoginPageGuard

    keys, limit, generated = access_for(args.api_key, confine, args.api_rate)
    print(announce(url, keys, limit, generated), flush=True)

    demo.launch(
        server_name=args.host, server_port=port, share=args.share, auth=auth or None, inbrowser=False,
        allowed_paths=[str(ctx.door.manager.outputs)], max_file_size=int(args.max_upload_mb * 2**20), show_error=True,
        footer_links=["api"], css=CSS,
        app_kwargs={"middleware": [Middleware(ServeMount, api=ctx.door.serving(keys, limit)),
                                   Middleware(LoginPageGuard)]},
    )


if __name__ == "__main__":
    main()
