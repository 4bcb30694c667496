"""What each process of a multi-process run adds: agreeing on a stop, and leaving the run directory to
rank 0 (launched by engine/training/launch.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from engine.runs.rundir import RunDir
from engine.training.launch import rank, world_size


class StopSync(TrainerCallback):
    """All processes learn of a stop at the same step: rank 0 looks for the file, an all-reduce tells
    the rest. Must run before the callback that acts on `stop`."""

    def __init__(self, stop: threading.Event, stop_file: Path):
        self.stop, self.stop_file = stop, stop_file

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1 if rank() == 0 and self.stop_file.exists() else 0])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item():
            self.stop.set()


class ShardingReport(TrainerCallback):
    """Says in the run's log what the sharding engine made of the model at the first step: the modules
    FSDP2 wraps, or the weights ZeRO-3 partitions (what a user checks before trusting the memory figures)."""

    def __init__(self, run: RunDir, engine: str):
        self.run, self.engine, self.said = run, engine, False

    def on_step_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        # the first step: the Trainer shards the model after on_train_begin, just before its loop
        if model is None or self.said:
            return
        self.said = True
        if self.engine == "fsdp":
            wrapped = sum(1 for m in model.modules() if type(m).__name__.startswith("FSDP"))
            self.run.log(f"FSDP2: {wrapped} modules sharded across {world_size()} processes")
            return
        split = [p for p in model.parameters() if hasattr(p, "ds_id")]
        held = sum(p.ds_tensor.numel() for p in split if getattr(p, "ds_tensor", None) is not None)
        self.run.log(f"DeepSpeed: {len(split)} weights partitioned across {world_size()} processes"
                     + (f" ({sum(p.ds_numel for p in split):,} values, {held:,} held here)" if split else
                        " (stage 2: the weights stay whole, gradients and optimizer state are split)"))


class QuietRunDir(RunDir):
    """The run directory as ranks other than 0 see it: they read it, and never write to it."""

    def write_status(self, **changes: Any) -> dict[str, Any]:
        return {}

    def append_metric(self, event: dict[str, Any]) -> None:
        pass

    def drop_metrics_after(self, step: int) -> None:
        pass

    def log(self, message: str) -> None:
        pass
