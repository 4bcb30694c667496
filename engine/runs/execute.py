"""One training run, top to bottom: data, model, trainer, train, save. Runs on the worker thread.

Every outcome lands in the run directory: `completed` with final/, `stopped` with a checkpoint to
resume from, or `failed` with a reason and suggestion in status.json and the traceback in train.log.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from engine.config.optimizers import check_optimizer
from engine.data.encode import EncodeStats, LossMask, encode_conversations
from engine.data.prepare import encode_samples, read_samples
from engine.data.replay import replay_conversations
from engine.models import lora_init
from engine.models.freeze import apply_freeze
from engine.models.levers import resolve_levers
from engine.models.load import apply_lora, load_model, load_tokenizer, merge_adapters
from engine.models.memory import release_memory
from engine.models.precision import pick_precision
from engine.models.resolve import resolve_model
from engine.runs.failures import explain, is_oom
from engine.runs.lineage import record_sources
from engine.runs.parent import adapter_settings, parent_adapter
from engine.runs.rundir import RunDir, loss_text, write_json_atomic
from engine.runs.storage import folder_bytes, is_disk_full, mib, space_line
from engine.sizing.oom import next_fit
from engine.text.message import Text, say
from engine.training import build_trainer
from engine.training.launch import STOP_FILE, launch, rank, wants_processes, world_size
from engine.training.sharding import sharded, write_engine_config
from engine.training.trackers import tensorboard_callbacks, tracker_environment

LIBRARY_LOGGERS = ("transformers", "peft", "trl", "accelerate")
PARTIAL_FINAL = "final.partial"


class _RunLogHandler(logging.Handler):
    """Library warnings from this run's thread go to its train.log."""

    def __init__(self, run: RunDir):
        super().__init__(logging.INFO)
        self.run = run
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.run.log(f"{record.name}: {record.getMessage()}")


def execute(run: RunDir, stop: threading.Event, events: queue.Queue, resume_from: str | None = None) -> str:
    """Run to the end; returns the final state. Never raises: failures are recorded in the run dir."""

    config = None
    handler = _RunLogHandler(run)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    run.write_status(state="running", started_at=time.time(), ended_at=None, error=None, suggestion=None,
                     error_text=None, suggestion_text=None, retry_with=None, pid=os.getpid(),
                     resumed_from=resume_from)
    try:
        config = run.config()

        if wants_processes(config) and world_size() == 1:  # the app's side: start the processes, follow them
            state = launch(run, config, stop, resume_from)
        else:
            with tracker_environment(config, run.path):
                state = _train(run, config, stop, events, resume_from)
    except BaseException as exc:  # the worker thread must survive anything a run does
        if is_disk_full(exc):
            reason, suggestion = _disk_full(run, config)
        else:
            reason, suggestion = explain(exc, config)
        retry = _planned_retry(config, exc)
        if retry:
            suggestion = say("run.advice_and_plan", advice=suggestion, plan=retry[0])
        _record_failure(run, traceback.format_exc(), reason, suggestion)
        if retry:
            run.write_status(retry_with=retry[1])
        state = "failed"
    finally:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        release_memory()
    from engine.training.callbacks import publish

    publish(events, {"run_id": run.run_id, "type": "state", "state": state, "time": time.time()})
    return state


def _train(run: RunDir, config: Any, stop: threading.Event, events: queue.Queue, resume_from: str | None
           ) -> str:
    from engine.training.callbacks import EventCallback
    from engine.training.distributed import ShardingReport, StopSync

    if config.cuda_visible_devices:
        _select_gpus(config.cuda_visible_devices, run)
    run.log(f"run {run.run_id}: {config.method}/{config.finetuning_type} on {config.model_name_or_path}"
            + (f", resuming from {resume_from}" if resume_from else ""))
    check_optimizer(config.optim)  # the door asked already; a run queued elsewhere (or a worker) asks here
    lora_init.check_machine(config)
    resolve_levers(config)  # a GPU lever this machine cannot use fails before the data is read

    # 1. data first: a dataset with no usable row fails before any model is loaded
    normalized, report = read_samples(config)
    parent = parent_adapter(config, run.path.parent)  # before any model is loaded: a wrong parent fails fast
    stack = parent.stack(config.create_new_adapter) if parent else []
    if parent:
        run.write_status(parent=parent.to_dict(), stack=stack)
        if config.create_new_adapter:
            run.log(f"a new adapter on top of {parent.spec}: {len(stack)} adapter{'s' if len(stack) > 1 else ''} "
                    "merged into the base first")
        else:
            run.log(f"continuing the adapter {parent.spec} ({adapter_settings(parent.folder)}; this run's LoRA "
                    "shape settings are not used)")
    precision = pick_precision(config)
    resolved = resolve_model(config, log=run.log)
    levers = resolve_levers(config, model_type=_model_type(resolved.path))
    run.log(f"model: {resolved.path} ({resolved.source}); precision {precision}; {levers.describe()}")
    if rank() == 0 and (line := write_engine_config(config, run.path, precision)):
        run.log(line)
    tok = load_tokenizer(resolved, config)
    train, val = encode_samples(tok, normalized, report, config)
    for line in report.lines():
        run.log(line)
    write_json_atomic(run.path / "data_report.json", report.to_dict())
    if rank() == 0:  # what this run is made of, before any weight changes; a record that fails never fails the run
        try:
            started = time.time()
            record_sources(run, config, resolved.path, resolved.source, report, parent.to_dict() if parent else None)
            if time.time() - started > 2:
                run.log(f"lineage: weights and data hashed in {time.time() - started:.1f} s (once per file version)")
        except Exception as exc:  # noqa: BLE001
            run.log(f"lineage not recorded: {type(exc).__name__}: {exc}")
    if stop.is_set():
        return _stopped(run, "stopped before training began")

    # 2. model (seeded first: LoRA's initial weights must be the same in every run with this seed)
    from transformers import set_seed

    set_seed(config.seed)
    started = time.time()
    model = merge_adapters(load_model(resolved, config, precision), stack)
    if config.replay_ratio > 0 and config.method == "sft":  # ignored for other methods, as the form hides it
        base_key = resolved.path + "".join(f"+{folder}" for folder in stack)  # replay answers are cached per base
        train = train + _replay(model, tok, base_key, config, len(train), run)
    continued = parent.folder if parent and not config.create_new_adapter else ""
    if config.uses_lora:
        model = apply_lora(model, config, continued)
        if not continued and not resume_from:  # a resumed run's adapter comes back from its checkpoint
            note = lora_init.prepare(model, config, run.path, resolved.path, keep=rank() == 0)
            if note:
                run.log(note)
    elif config.finetuning_type == "freeze":
        trained = apply_freeze(model, config)
        run.log(f"freeze tuning: {len(trained)} weights of {config.freeze_trainable_modules} in "
                f"{'the last' if config.freeze_trainable_layers > 0 else 'the first'} "
                f"{abs(config.freeze_trainable_layers)} layers are trained")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    run.log(f"model loaded in {time.time() - started:.1f} s: {trainable:,} trainable of {total:,} parameters")

    # 3. trainer
    callback = EventCallback(run, events, stop, checkpoint_bytes=trainable * 4)
    callbacks: list[Any] = [callback]
    if world_size() > 1:  # one of several processes: they must agree on a stop before acting on it
        callbacks.insert(0, StopSync(stop, run.path / STOP_FILE))
    if sharded(config):
        callbacks.append(ShardingReport(run, config.distributed))
    if rank() == 0:  # one process writes the run's TensorBoard events
        callbacks += tensorboard_callbacks(config, run.path, _checkpoint_step(resume_from))
    trainer = build_trainer(config, model, tok, train, val, run.path, precision, callbacks, log=run.log)
    if resume_from:
        run.drop_metrics_after(_checkpoint_step(resume_from))
    if stop.is_set():
        return _stopped(run, "stopped before training began")

    # 4. train
    result = trainer.train(resume_from_checkpoint=resume_from)
    final_loss = _last_loss(run)
    if callback.stop_requested_at is not None:
        return _stopped(run, f"stopped at step {callback.stop_requested_at}; checkpoint saved", final_loss)

    # 5. save (with keep_best, the trainer has loaded the best checkpoint back)
    best = trainer.state.best_model_checkpoint
    if best and (config.keep_best or config.early_stopping_patience):
        what = "is" if config.keep_best else "was"
        run.log(f"best checkpoint {what} {Path(best).name} (validation loss {trainer.state.best_metric:.4f})"
                + (f"; early stopping ended training at step {result.global_step}"
                   if config.early_stopping_patience and result.global_step < trainer.state.max_steps else ""))
    # saved beside final/ and renamed at the end: a save cut short (kill, full disk) never looks complete
    partial = run.path / PARTIAL_FINAL
    main_process = trainer.is_world_process_zero()
    if main_process:
        shutil.rmtree(partial, ignore_errors=True)
    trainer.save_model(str(partial))  # every process calls it; only the main one writes
    if main_process:
        if config.uses_lora and not continued:
            lora_init.save_final(trainer.model, partial, config, run.path)
        tok.save_pretrained(str(partial))
        shutil.rmtree(run.final_path, ignore_errors=True)
        os.replace(partial, run.final_path)
    run.log(f"completed: {result.global_step} steps, final loss {loss_text(final_loss)}, saved to {run.final_path}")
    run.write_status(state="completed", ended_at=time.time(), final_loss=final_loss, progress=1.0,
                     step=result.global_step)
    return "completed"


def _checkpoint_step(checkpoint: str | None) -> int:
    return int(Path(checkpoint).name.split("-")[-1]) if checkpoint else 0


def _replay(model: Any, tok: Any, model_path: str, config: Any, n_train: int, run: RunDir) -> list[Any]:
    """The base model's own answers to general prompts, encoded like the training data (before LoRA is
    applied, so they are the base's answers)."""

    convs = replay_conversations(model, tok, model_path, round(config.replay_ratio * n_train), config.seed, run.log)
    encoded = encode_conversations(tok, convs, config.max_seq_length, LossMask.of(config), EncodeStats())
    extra = [e for item in encoded if isinstance(item, list) for e in item]
    run.log(f"replay: {len(extra)} answers of the base model mixed into {n_train} training examples")
    return extra


def _disk_full(run: RunDir, config: Any) -> tuple[str, str]:
    """The disk filled up (usually while saving). The cut-short saves are removed: they could never be
    loaded, and the space they hold lets the status be written and the run be resumed."""

    partial = run.path / PARTIAL_FINAL
    cut = run.incomplete_checkpoints() + ([partial] if partial.exists() else [])
    for folder in cut:
        shutil.rmtree(folder, ignore_errors=True)
    complete = run.checkpoints()
    size = f"; a checkpoint of this run takes {mib(folder_bytes(complete[-1]))}" if complete else ""
    saving = f" while saving {', '.join(p.name for p in cut)}" if cut else ""
    reason = f"disk full{saving}: {space_line(run.path)}{size}"
    keep = f"resume: {complete[-1].name} is complete" if complete else "start the run again"
    limit = "" if config is None or config.save_total_limit else ", set save_total_limit to keep fewer checkpoints"
    suggestion = (f"Free space on that disk (or start TuneDesk with --outputs on a larger one){limit}, then "
                  f"{keep}.")
    if cut:
        run.log(f"removed the cut-short save{'s' if len(cut) > 1 else ''} {', '.join(p.name for p in cut)}")
    return reason, suggestion


def _planned_retry(config: Any, exc: BaseException) -> tuple[Text, dict[str, Any]] | None:
    """Out of memory: the fit planner's next setting (one click in the Train tab restarts with it)."""
    if config is None or not is_oom(exc):
        return None
    try:
        import torch

        return next_fit(config, torch.cuda.is_available(), pick_precision(config))
    except Exception as exc:  # noqa: BLE001  (advice must never hide the failure it advises on)
        print(f"TuneDesk: no planned retry ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def _record_failure(run: RunDir, trace: str, reason: str | Text, suggestion: str | Text) -> None:
    """On a full or vanished disk even this can fail; the reason then goes to the console, and the next
    start marks the run interrupted. status.json holds the English text (error, suggestion) and, for the
    UI in the reader's language, the messages (error_text, suggestion_text)."""
    try:
        run.log("run failed:\n" + trace)
        run.log(f"reason: {reason}\nsuggestion: {suggestion}")
        run.write_status(state="failed", ended_at=time.time(), error=str(reason), suggestion=str(suggestion),
                         error_text=_stored(reason), suggestion_text=_stored(suggestion))
    except OSError as exc:
        print(f"TuneDesk: run {run.run_id} failed ({reason}); its status could not be written: {exc}",
              file=sys.stderr, flush=True)


def _stored(message: str | Text) -> dict[str, Any] | None:
    return message.to_dict() if isinstance(message, Text) else None


def _stopped(run: RunDir, message: str, final_loss: float | None = None) -> str:
    run.log(message)
    point = run.latest_checkpoint()
    run.write_status(state="stopped", ended_at=time.time(), final_loss=final_loss,
                     checkpoint=point.name if point else None)
    return "stopped"


def _last_loss(run: RunDir) -> float | None:
    for event in reversed(run.metrics()):
        if "loss" in event:
            return event["loss"]
    return None


def _select_gpus(devices: str, run: RunDir) -> None:
    import torch

    if torch.cuda.is_initialized():
        run.log(f"cuda_visible_devices={devices} ignored: CUDA is already initialised in this process; "
                f"start TuneDesk with CUDA_VISIBLE_DEVICES={devices} instead")
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = devices


def _model_type(path: str) -> str:
    """config.json's model_type (Liger's kernels are chosen by it); empty when it cannot be read."""
    try:
        return str(json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, ValueError):
        return ""
