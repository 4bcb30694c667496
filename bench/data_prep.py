"""Data preparation before a run's first step: read, render, tokenise (and pack) the 999-row alpaca set,
first with no cache, then from the on-disk cache a second run of the same data and settings finds.

    .venv/bin/python bench/data_prep.py [--repeats 3]

The tokenizer is loaded before the clock starts (a run loads it anyway). Targets: under 3 s cold,
under 0.5 s from the cache.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset_stats import cpu_line  # noqa: E402

ALPACA = ROOT.parent / "shared" / "data" / "alpaca_en_demo.json"
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def prepare(config, tok) -> tuple[float, int]:
    """Seconds for read + render + tokenise (+ pack), and the examples it made."""
    from engine.data.prepare import encode_samples, read_samples

    started = time.perf_counter()
    normalized, report = read_samples(config)
    train, val = encode_samples(tok, normalized, report, config)
    return time.perf_counter() - started, len(train) + len(val)


def main() -> None:
    from engine.config.train_config import TrainConfig
    from engine.data.encode_cache import EncodeCache
    from engine.data.prepare import read_samples
    from engine.models.load import load_tokenizer
    from engine.models.resolve import resolve_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dataset = ALPACA if ALPACA.exists() else ROOT / "samples" / "identity.json"
    print(f"# data preparation: {dataset.name}, {MODEL} tokenizer, max length 512\n# {cpu_line()}\n")
    print("| setting | examples | cold s (median) | from cache s (median) |\n|---|---|---|---|")
    for packing in (False, True):
        config = TrainConfig.from_dict({"model_name_or_path": MODEL, "dataset": str(dataset),
                                        "max_seq_length": 512, "packing": packing})
        tok = load_tokenizer(resolve_model(config, log=lambda *_: None), config)
        cold, warm, examples = [], [], 0
        for _ in range(args.repeats):
            normalized, _report = read_samples(config)
            cache = EncodeCache.for_run(tok, normalized, config)
            if cache is not None:
                shutil.rmtree(cache.folder, ignore_errors=True)
            seconds, examples = prepare(config, tok)
            cold.append(seconds)
            warm.append(prepare(config, tok)[0])
        print(f"| {'packing' if packing else 'no packing'} | {examples} | {statistics.median(cold):.2f} | "
              f"{statistics.median(warm):.2f} |")


if __name__ == "__main__":
    main()
