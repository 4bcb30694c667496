"""The step time of a planned run, measured: the real model loaded as the run would load it, trained by
TuneDesk's own trainer for a few steps at the planned batch and length on random tokens (the trained
share of each row as in the data), timed after a warm-up step. Seconds on a GPU; for SmolLM2 on two CPU
cores well under a minute. Results are kept per process and setting."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from engine.config.train_config import TrainConfig
from engine.data.encode import IGNORE, Encoded
from engine.hub.disk import list_models
from engine.hub.registry import weights_complete
from engine.locations import bundled_gguf_path
from engine.models.load import apply_lora, load_model, load_tokenizer, merge_adapters
from engine.models.memory import release_memory
from engine.models.precision import matmul_rate, pick_precision
from engine.models.resolve import BUNDLED_ALIASES, resolve_model
from engine.runs.parent import parent_adapter
from engine.sizing.planner import Settled
from engine.sizing.timing import StepRate
from engine.training import build_trainer

WARM_UP, TIMED = 1, 2
_MEASURED: dict[tuple[str, float], StepRate] = {}
_BY_MODEL: dict[str, StepRate] = {}  # the last step measured of each model: other settings scale from it
_ONE_AT_A_TIME = threading.Lock()


def measure_step(config: TrainConfig, trained_share: float = 0.5, runs_dir: Path | None = None,
                 progress: Any = None) -> StepRate:
    """One micro-step of `config` (its model, method, batch, length, checkpointing, precision)."""
    probe = TrainConfig.from_dict({
        **config.to_dict(), "method": "sft" if config.method not in ("pt",) else "pt", "packing": False,
        "max_steps": WARM_UP + TIMED, "gradient_accumulation_steps": 1, "logging_steps": 1000, "save_steps": 10**6,
        "eval_steps": 0, "val_size": 0.0, "report_to": "none", "compare_after_training": False, "replay_ratio": 0,
        "early_stopping_patience": 0, "keep_best": False, "nproc_per_node": 1, "nnodes": 1})
    key = (probe.to_yaml(), round(trained_share, 2))
    with _ONE_AT_A_TIME:  # two pages asking at once measure once, and never against each other
        if key not in _MEASURED:
            rate = _measure(probe, trained_share, runs_dir, progress or (lambda fraction, message: None))
            _MEASURED[key] = _BY_MODEL[probe.model_name_or_path] = rate
        return _MEASURED[key]


def _measure(probe: TrainConfig, trained_share: float, runs_dir: Path | None, report: Any) -> StepRate:
    import torch

    precision = pick_precision(probe)
    report(0.1, f"loading {probe.model_name_or_path} to measure a step…")
    model = trainer = None
    try:
        resolved = resolve_model(probe, log=lambda *_: None)
        tok = load_tokenizer(resolved, probe)
        parent = parent_adapter(probe, runs_dir) if runs_dir else None
        stack = parent.stack(probe.create_new_adapter) if parent else []
        model = merge_adapters(load_model(resolved, probe, precision), stack)
        if probe.uses_lora:
            model = apply_lora(model, probe, parent.folder if parent and not probe.create_new_adapter else "")
        rows = [_row(probe.max_seq_length, trained_share, tok, seed) for seed in
                range(probe.per_device_train_batch_size * (WARM_UP + TIMED))]
        timer = _StepTimer()
        peak = _PeakMemory()
        with tempfile.TemporaryDirectory(prefix="tunedesk-probe-") as folder:
            trainer = build_trainer(probe, model, tok, rows, [], Path(folder), precision, [timer.callback()],
                                    log=lambda *_: None)
            report(0.5, f"measuring {WARM_UP + TIMED} steps at batch {probe.per_device_train_batch_size} × "
                        f"{probe.max_seq_length} tokens…")
            with peak:
                trainer.train()
    finally:  # whatever happened, the model goes: the probe must leave the memory it measured in
        del trainer, model
        release_memory()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    timed = sorted(timer.seconds[WARM_UP:]) or timer.seconds
    method = f"qlora{probe.quantization_bit}" if probe.finetuning_type == "qlora" else probe.finetuning_type
    return StepRate(timed[len(timed) // 2], probe.per_device_train_batch_size, probe.max_seq_length, "measured",
                    method, probe.gradient_checkpointing, peak_gb=peak.gb)


def measured_before(settled: Settled) -> StepRate | None:
    """A step of this model measured earlier in this process, to scale from where measuring is not possible."""
    return _BY_MODEL.get(settled.config.model_name_or_path)


def on_this_machine(config: TrainConfig) -> bool:
    """The model's files are here as `resolve_model` would find them (a folder, the bundled SmolLM2, the
    hub cache of the model's source, complete): measuring downloads nothing."""
    name = config.model_name_or_path.strip()
    if not name:
        return False
    if Path(name).expanduser().exists():
        return True
    if name.lower() in BUNDLED_ALIASES and config.model_source == "auto":
        return bundled_gguf_path() is not None
    sources = {"auto": ("hf", "modelscope"), "hf": ("hf",), "modelscope": ("modelscope",)}.get(config.model_source, ())
    return any(m["id"] == name and m["source"] in sources and not m.get("missing") and _complete(Path(m["folder"]))
               for m in list_models())


def _complete(folder: Path) -> bool:
    """A model folder, or a hub cache's repo folder with a snapshot, whose weights are all there."""
    snapshots = [p for p in (folder / "snapshots").iterdir() if p.is_dir()] if (folder / "snapshots").is_dir() \
        else [folder]
    return any(weights_complete(p) for p in snapshots)


def device_flops(precision: str) -> float:
    """FLOP/s of a 1,024³ matmul in `precision`: on the GPU where there is one, else on the CPU."""
    import torch

    if torch.cuda.is_available():
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        a = torch.randn(4096, 4096, device="cuda", dtype=dtype)
        for _ in range(3):
            a @ a
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(10):
            a @ a
        torch.cuda.synchronize()
        return 10 * 2 * 4096**3 / (time.perf_counter() - started)
    return matmul_rate(precision) * 2 * 1024**3


def _row(length: int, trained_share: float, tok: Any, seed: int) -> Encoded:
    rng = random.Random(seed)
    top = min(len(tok), 30_000) - 1
    ids = [rng.randint(100, top) for _ in range(length)]
    prompt = int(length * (1 - trained_share))
    return Encoded(ids, [IGNORE] * prompt + ids[prompt:])


class _StepTimer:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._started = 0.0

    def callback(self) -> Any:
        from transformers import TrainerCallback

        timer = self

        class StepTimes(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                timer._started = time.perf_counter()

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                timer.seconds.append(time.perf_counter() - timer._started)

        return StepTimes()


class _PeakMemory:
    """The most memory the process (or the GPU) held while the probe ran."""

    def __init__(self) -> None:
        self.gb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rss = 0

    def __enter__(self) -> _PeakMemory:
        import psutil
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            return self
        process = psutil.Process()

        def sample() -> None:
            while not self._stop.wait(0.05):
                self._rss = max(self._rss, process.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True, name="probe-memory")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self._thread is None:
            self.gb = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            return
        self._stop.set()
        self._thread.join()
        self.gb = round(self._rss / 2**30, 2)
