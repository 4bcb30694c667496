"""`python -m engine search|info|download|models`: the Model Hub from a terminal."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from engine.hub.disk import list_models
from engine.hub.download import DownloadManager
from engine.hub.info import search_models
from engine.hub.model_page import model_page


def add_parsers(sub: Any) -> None:
    def hub_args(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument("--source", default=default, choices=("auto", "hf", "modelscope"))
        p.add_argument("--endpoint", default="", help="Hugging Face mirror, e.g. https://hf-mirror.com")
        p.add_argument("--json", action="store_true")

    search = sub.add_parser("search", help="search Hugging Face or ModelScope for models")
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=20)
    hub_args(search, "hf")
    info = sub.add_parser("info", help="a hub model's page: size from its config, licence, chat template, memory")
    info.add_argument("repo")
    hub_args(info, "auto")
    download = sub.add_parser("download", help="download a hub model (resumes a partial download)")
    download.add_argument("repo")
    download.add_argument("--gguf-file", default="", help="for GGUF-only repositories: the file to fetch")
    hub_args(download, "auto")
    sub.add_parser("models", help="every model on disk with its size")


def run(args: argparse.Namespace) -> int:
    token = os.environ.get("HF_TOKEN", "") if args.command != "models" else ""
    if args.command == "search":
        rows = search_models(args.query, args.source, args.endpoint, token, args.limit)
        return _print(rows, args.json, lambda r: f"{r['id']:<60} {r['downloads']:>10,} ↓  {r['task']}")
    if args.command == "info":
        page = model_page(args.repo, args.source, args.endpoint, token)
        if args.json:
            print(json.dumps(page, indent=1, default=str))
            return 0
        shape = page.get("shape") or {}
        print(f"{page['id']} ({page['hub']}) licence {page['licence'] or '?'} · download {page['download_gb']} GiB"
              f" · chat template {'yes' if page['chat_template'] else 'no'}")
        if shape:
            print(f"{shape['architecture']}: {shape['params']:,} parameters, {shape['layers']} layers, hidden "
                  f"{shape['hidden']}, heads {shape['heads']} (KV {shape['kv_heads']}), context {shape['context']}")
        for method, m in (page.get("memory") or {}).items():
            print(f"  {method:<7} {m['gb']:>7} GiB  {m['verdict']} on {m['device']}")
        return 0
    if args.command == "download":
        return _download(args, token)

    return _print(list_models(), False, lambda m: f"{m['source']:<10} {m['id']:<50} {m['size_gb']:>8} GiB  "
                                                  f"{m['folder']}")


def _download(args: argparse.Namespace, token: str) -> int:
    from tqdm import tqdm


    manager = DownloadManager()
    job = manager.start(args.repo, args.source, args.endpoint, token, args.gguf_file)
    bar = tqdm(total=0, unit="B", unit_scale=True, desc=args.repo)
    try:
        while True:
            status = manager.status(job)
            if status["total"] and bar.total != status["total"]:
                bar.total = status["total"]
            bar.n = status["bytes"]
            bar.refresh()
            if status["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        manager.cancel(job)
        bar.close()
        print("stopped: run the same command again to continue", file=sys.stderr)
        return 130
    bar.close()
    if status["state"] != "done":
        print(f"error: {status['error'] or status['state']}", file=sys.stderr)
        return 1
    print("\n".join(status["checks"]))
    print(status["folder"])
    return 0


def _print(rows: list[dict[str, Any]], as_json: bool, line: Any) -> int:
    if as_json:
        print(json.dumps(rows, indent=1, default=str))
    else:
        for row in rows:
            print(line(row))
    return 0
