"""Dataset Explorer at scale: statistics over a 1,000,000-row alpaca JSON-lines file, and training's own
encoding before / after batching and with the on-disk cache.

    .venv/bin/python bench/dataset_stats.py [--rows 1000000] [--encode-rows 20000]

Rows come from ../shared/data/alpaca_en_demo.json when present (else TuneDesk's identity sample),
repeated with a row number so no two rows are equal. The tokenizer is the real Qwen3 one from
../shared when present, else the bundled SmolLM2's. Run it alone: a second busy process skews it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def cpu_line() -> str:
    from engine.env.machine import cpu_info

    cpu = cpu_info()
    flags = " ".join(f for f, on in cpu["flags"].items() if on) or "none of avx2/avx512/amx"
    return f"CPU: {cpu['model']}, {cpu['cores_logical']} cores, flags: {flags}"


def make_file(path: Path, rows: int) -> None:
    source = SHARED / "data" / "alpaca_en_demo.json"
    source = source if source.exists() else ROOT / "samples" / "identity.json"
    base = json.loads(source.read_text(encoding="utf-8"))
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            row = dict(base[i % len(base)])
            row["instruction"] = f"{row['instruction']} (#{i})"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def tokenizer_source() -> str:
    tok = SHARED / "models" / "qwen3-tokenizer"
    return str(tok) if tok.exists() else "HuggingFaceTB/SmolLM2-135M-Instruct"


def peak_rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def stats_run(path: Path, tok_source: str, workers: int) -> dict:
    """One statistics pass in a fresh process, so peak memory is its own."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from engine.data.explorer import DatasetExplorer
from engine.data import stats as s
from engine.data.sources import plan_source
if __name__ == "__main__":
    ex = DatasetExplorer({tempfile.mkdtemp()!r})
    tok = ex.tokenizer({tok_source!r}) if {tok_source!r} else None
    started = time.time()
    result = s.compute_stats(plan_source({str(path)!r}), "auto", tok, 1024, workers={workers})
    wall = time.time() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({{"wall": wall, "rows": result.rows, "token_rows": result.token_rows,
                      "truncated": result.truncated, "rss": own, "child_rss": kids}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def old_encoder():
    """The encoder as it was before batching (one tokenizer call per segment), from git history."""
    text = subprocess.run(["git", "show", "2b59a8c:engine/data/encode.py"], capture_output=True, text=True,
                          cwd=ROOT).stdout
    if not text:
        return None
    path = Path(tempfile.mkdtemp()) / "old_encode.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_encode", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_encode"] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def encode_figures(path: Path, rows: int, tok_source: str) -> list[tuple[str, float, float]]:
    from engine.config.train_config import TrainConfig
    from engine.data.explorer import DatasetExplorer
    from engine.data.prepare import encode_samples, read_samples

    small = path.with_name(f"first{rows}.jsonl")
    with path.open() as src, small.open("w") as dst:
        for _, line in zip(range(rows), src, strict=False):
            dst.write(line)
    tok = DatasetExplorer(tempfile.mkdtemp()).tokenizer(tok_source)
    config = TrainConfig(dataset=str(small), max_seq_length=1024)
    out = []
    old = old_encoder()
    if old is not None:
        normalized, _ = read_samples(config)
        stats = old.EncodeStats()
        started = time.time()
        for sample in normalized.samples:
            old.encode_conversation(tok, sample, 1024, False, stats)
        wall = time.time() - started
        out.append(("before: one tokenizer call per segment", wall, rows / wall))
    os.environ["TUNEDESK_CACHE"] = tempfile.mkdtemp()
    for label in ("after: batched, first run (writes the cache)", "after: second run (read from the cache)"):
        started = time.time()
        normalized, report = read_samples(config)
        encode_samples(tok, normalized, report, config)
        wall = time.time() - started
        out.append((label + (" ✓ cached" if report.cached else ""), wall, rows / wall))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encode-rows", type=int, default=20_000)
    parser.add_argument("--keep", help="reuse or keep the generated file at this path")
    args = parser.parse_args()
    path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "alpaca.jsonl"
    if not path.exists():
        started = time.time()
        make_file(path, args.rows)
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.time() - started:.0f} s",
              file=sys.stderr)
    tok_source = tokenizer_source()
    print(cpu_line())
    print(f"data: {args.rows:,} alpaca rows, {path.stat().st_size / 1e6:.0f} MB; tokenizer: {Path(tok_source).name}\n")
    print("| statistics pass | wall s | rows/s | token lengths from | peak RSS MB (main / workers) |")
    print("|---|---|---|---|---|")
    for workers in (1, 2):
        r = stats_run(path, tok_source, workers)
        print(f"| {workers} process{'es' if workers > 1 else ''} | {r['wall']:.1f} | {r['rows'] / r['wall']:,.0f} | "
              f"{r['token_rows']:,} sampled rows | {r['rss']:.0f} / {r['child_rss']:.0f} |", flush=True)
    print(f"\n| training's encoding, first {args.encode_rows:,} rows, max length 1024 | wall s | rows/s |")
    print("|---|---|---|")
    for label, wall, rate in encode_figures(path, args.encode_rows, tok_source):
        print(f"| {label} | {wall:.1f} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
