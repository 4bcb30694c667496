"""One process of a multi-process run, started by torchrun (see engine/training/distributed.py).

    python -m torch.distributed.run --nproc_per_node 2 … -m engine.training.worker RUN_DIR [--resume CKPT]
    python -m torch.distributed.run --nnodes 2 --node_rank 1 … -m engine.training.worker --config config.yaml

On node 0 every process reads the run directory and rank 0 writes it. On another machine (`--config`)
the processes train from a copy of the run's config.yaml and write nothing: node 0 keeps the run.
"""

from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import threading
from pathlib import Path

from engine.runs.execute import execute
from engine.runs.rundir import RunDir
from engine.training.distributed import QuietRunDir
from engine.training.launch import rank


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine.training.worker")
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--config", help="this run's config.yaml, on a machine other than node 0")
    parser.add_argument("--resume", help="checkpoint folder to resume from")
    args = parser.parse_args(argv)

    if args.config:
        folder = Path(tempfile.mkdtemp(prefix="tunedesk-node-"))
        (folder / "config.yaml").write_text(Path(args.config).read_text(encoding="utf-8"), encoding="utf-8")
        run: RunDir = QuietRunDir(folder)
    elif args.run_dir:
        run = RunDir(Path(args.run_dir)) if rank() == 0 else QuietRunDir(Path(args.run_dir))
    else:
        parser.error("give the run directory (node 0) or --config (other machines)")
    state = execute(run, threading.Event(), queue.Queue(maxsize=1000), args.resume)
    return 0 if state in ("completed", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
