"""The TrainerCallback that turns Trainer logs into typed events, and the stop switch.

Events go to metrics.jsonl and onto a bounded queue with put_nowait: a slow or absent reader never
slows training, it only misses live events it can re-read from the file.
"""

from __future__ import annotations

import math
import queue
import shutil
import threading
import time
from typing import Any

from transformers import TrainerCallback

from engine.errors import NaNLossError
from engine.runs.rundir import RunDir
from engine.text.message import say
from engine.training.gradient_flow import block_grad_norms

STATUS_EVERY_S = 1.0
DISK_MARGIN = 3  # a checkpoint holds weights plus optimizer state (about 3x the trainable weights)
# what DPO / KTO / GRPO log beside the loss (rewards per function for GRPO, KL, completion lengths), and
# the padding share of SFT batches
PASSED_ON = ("reward", "kl", "completions/mean_length", "completions/clipped_ratio", "train_loss", "train_runtime",
             "padding_share")


def publish(events: queue.Queue, event: dict[str, Any]) -> None:
    try:
        events.put_nowait(event)
    except queue.Full:
        try:
            events.get_nowait()  # drop the oldest; the file keeps everything
        except queue.Empty:
            pass
        try:
            events.put_nowait(event)
        except queue.Full:
            pass


class EventCallback(TrainerCallback):
    def __init__(self, run: RunDir, events: queue.Queue, stop: threading.Event, checkpoint_bytes: int):
        self.run = run
        self.events = events
        self.stop = stop
        self.checkpoint_bytes = checkpoint_bytes
        self.started = time.time()
        self.start_step = 0
        self.last_tokens = 0
        self.last_time = self.started
        self.stop_requested_at: int | None = None
        self.status_written_at = 0.0
        self.grad_norms: dict[str, float] = {}  # the last logged step's, per block (gradient_flow.py)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.started = self.last_time = time.time()
        self.start_step = state.global_step
        self.last_tokens = state.num_input_tokens_seen or 0
        self.run.write_status(max_steps=state.max_steps, step=state.global_step,
                              progress=state.global_step / max(state.max_steps, 1))

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        now = time.time()
        # status.json is for readers polling about once a second: fast steps (a GPU, a tiny model) must
        # not turn into a file rewrite each; a stop or the last step is always written
        if now - self.status_written_at >= STATUS_EVERY_S or self.stop.is_set() or state.global_step >= state.max_steps:
            self.run.write_status(step=state.global_step, progress=state.global_step / max(state.max_steps, 1),
                                  epoch=state.epoch, last_step_at=now, eta_s=self._eta(state))
            self.status_written_at = now
        if self.stop.is_set():
            # finish this step, save it, leave: the checkpoint is the resume point
            control.should_training_stop = True
            control.should_save = True
            self.stop_requested_at = state.global_step
        elif args.save_steps and (state.global_step + 1) % args.save_steps == 0:
            self._check_disk()

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        step = state.global_step + 1  # the step these gradients complete
        if kw.get("model") is not None and (step % max(args.logging_steps, 1) == 0 or step == 1):
            self.grad_norms = block_grad_norms(kw["model"])

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        logs = logs or {}
        now = time.time()
        tokens = state.num_input_tokens_seen or 0
        span = max(now - self.last_time, 1e-6)
        event = {
            "type": "eval" if "eval_loss" in logs else "summary" if "train_loss" in logs else "train",
            "step": state.global_step,
            "epoch": round(state.epoch or 0.0, 4),
            "loss": logs.get("loss"),
            "eval_loss": logs.get("eval_loss"),
            "eval_perplexity": _perplexity(logs.get("eval_loss")),
            "lr": logs.get("learning_rate"),
            "grad_norm": logs.get("grad_norm"),
            "tokens_per_s": round((tokens - self.last_tokens) / span, 2) if "loss" in logs else None,
            "tokens_seen": tokens or None,  # the x axis when runs of different batch shapes are compared
            "elapsed_s": round(now - self.started, 2),
            "eta_s": self._eta(state),
            "time": now,
        }
        if "loss" in logs:
            self.last_tokens, self.last_time = tokens, now
            if self.grad_norms:
                event["grad_norms"], self.grad_norms = self.grad_norms, {}
        for key, value in logs.items():
            if key.startswith(PASSED_ON) and isinstance(value, (int, float)):
                event[key.replace("/", "_")] = value
        event = {k: v for k, v in event.items() if v is not None}
        self.run.append_metric(event)
        publish(self.events, {"run_id": self.run.run_id, **event})
        for key in ("loss", "eval_loss"):
            value = logs.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                raise NaNLossError(f"{key} became {value} at step {state.global_step}")
        if "loss" in logs:
            self.run.write_status(last_loss=logs["loss"])

    def _eta(self, state: Any) -> float | None:
        done = state.global_step - self.start_step
        if done <= 0:
            return None
        return round((time.time() - self.started) / done * (state.max_steps - state.global_step), 1)

    def _check_disk(self) -> None:
        free = shutil.disk_usage(self.run.path).free
        need = self.checkpoint_bytes * DISK_MARGIN
        if free < need:
            message = say("run.disk_low", free=f"{free / 2**30:.1f}", folder=str(self.run.path.parent),
                          need=f"{need / 2**30:.1f}")
            alert = {"level": "warning", "key": "disk_low", "time": time.time(), "message": str(message),
                     "text": message.to_dict()}
            alerts = [a for a in self.run.status().get("alerts", []) if a.get("key") != "disk_low"]
            self.run.write_status(alerts=[*alerts, alert])


def _perplexity(loss: float | None) -> float | None:
    import math

    if loss is None or not math.isfinite(loss):
        return None
    return round(math.exp(min(loss, 50.0)), 3)
