"""What a Compare Chat side names, and what has to be loaded for it.

A side is written as text so the UI, API and CLI share it:
  base:<model>               a base model (catalogue name, hub id, local folder, the bundled SmolLM2)
  run:<run id>               a completed run's final model
  run:<run id>@checkpoint-N  one of its checkpoints
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.field_info import DEFAULT_MODEL
from engine.config.train_config import TrainConfig
from engine.errors import ModelError, RunError
from engine.models.lora_init import CONVERTED
from engine.models.resolve import resolve_model
from engine.models.rope import NO_SCALING


@dataclass(frozen=True)
class SidePlan:
    spec: str
    label: str
    base: str  # model_name_or_path of the base
    model_source: str
    gguf_file: str
    adapter: str  # a LoRA adapter folder, or ""
    full: str  # a fully fine-tuned model folder, or ""
    tokenizer: str  # the folder whose tokenizer and chat template this side uses ("" = the base's)
    trained_template: str  # the chat template the run trained with ("" for a base side)
    trust_remote_code: bool = False
    rope: tuple[str, float] = NO_SCALING  # a LoRA run's RoPE scaling: its base is loaded with it
    stack: tuple[str, ...] = ()  # adapters merged into the base before this side's own (create_new_adapter)

    @property
    def base_key(self) -> str:
        return (f"{self.base}|{self.model_source}|{self.gguf_file}"
                + ("" if self.rope[0] == "none" else f"|rope={self.rope[0]}x{self.rope[1]:g}")
                + "".join(f"+{folder}" for folder in self.stack))

    @property
    def run_id(self) -> str:
        """The run this side comes from ("" for a base model)."""
        return self.spec[4:].partition("@")[0] if self.spec.startswith("run:") else ""

    def resolve_base(self) -> str:
        """The base model's folder on disk, with advice when it has gone missing."""

        try:
            return resolve_model(TrainConfig(model_name_or_path=self.base, model_source=self.model_source,
                                              gguf_file=self.gguf_file, trust_remote_code=self.trust_remote_code),
                                 log=lambda m: None).path
        except ModelError as exc:
            of = f" (the base of {self.label})" if self.run_id else ""
            raise ModelError(f"the base model {self.base}{of} cannot be found ({exc}): put it back, or register "
                             "where it is now in the Model Hub tab") from exc


def _run_dir(manager: Any, run_id: str) -> Any:
    try:
        return manager.run(run_id)
    except RunError as exc:
        raise ModelError(f"{exc}; pick a run from the list (completed runs and their checkpoints)") from exc


def plan_side(spec: str, manager: Any) -> SidePlan:
    spec = (spec or "").strip()
    if spec.startswith("base:") or not spec:
        model = spec[5:].strip() or DEFAULT_MODEL
        return SidePlan(f"base:{model}", side_label(f"base:{model}"), model, "auto", "", "", "", "", "")
    if not spec.startswith("run:"):
        raise ModelError(f"'{spec}': a side is base:<model>, run:<run id> or run:<run id>@checkpoint-N")
    run_id, _, point = spec[4:].partition("@")
    run = _run_dir(manager, run_id.strip())
    config: TrainConfig = run.config()
    if point:
        folder = run.path / point.strip()
        if not folder.is_dir() or not point.strip().startswith("checkpoint-"):
            raise ModelError(f"run {run_id} has no {point}: its checkpoints are "
                             f"{', '.join(p.name for p in run.checkpoints()) or 'none'}")
        if _residual_checkpoints(config):
            raise ModelError(f"run {run_id} trained with lora_init {config.lora_init}: its checkpoints hold the "
                             "adapter in PEFT's working form, against a rewritten base, to resume from; its final "
                             f"model applies to the base as it is: pick run:{run_id}")
    else:
        folder = run.final_path
        if not folder.is_dir():
            state = run.status().get("state")
            raise ModelError(f"run {run_id} has no final model (it is {state}); pick one of its checkpoints "
                             f"({', '.join(p.name for p in run.checkpoints()) or 'none saved'})")
    is_adapter = (folder / "adapter_config.json").is_file()
    weights = list(folder.glob("*.safetensors")) + list(folder.glob("pytorch_model*.bin"))
    if not is_adapter and not ((folder / "config.json").is_file() and weights):
        raise ModelError(f"{folder} is incomplete (no adapter and no model weights): the save was interrupted; "
                         "pick another checkpoint")
    tokenizer = str(folder) if any((folder / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")) \
        else (str(run.final_path) if (run.final_path / "tokenizer_config.json").is_file() else "")
    label = side_label(spec)
    return SidePlan(spec, label, config.model_name_or_path, config.model_source, config.gguf_file,
                    str(folder) if is_adapter else "", "" if is_adapter else str(folder), tokenizer,
                    template_of(tokenizer) if tokenizer else "", config.trust_remote_code,
                    (config.rope_scaling, config.rope_factor) if is_adapter else NO_SCALING,
                    tuple(run.status().get("stack") or ()) if is_adapter else ())


def _residual_checkpoints(config: TrainConfig) -> bool:
    """PiSSA and OLoRA checkpoints only fit the residual base training made (see models/lora_init.py)."""
    return config.uses_lora and config.lora_init in CONVERTED and (not config.adapter_name_or_path or
                                                                    config.create_new_adapter)


def template_of(folder: str) -> str:
    """The chat template saved in a tokenizer folder (chat_template.jinja or tokenizer_config.json)."""
    path = Path(folder)
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    try:
        value = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    except (OSError, json.JSONDecodeError):
        return ""
    return value if isinstance(value, str) else json.dumps(value) if value else ""


def template_id(template: str) -> str:
    """A short name for a template, to show which one a side uses."""
    if not template:
        return "none"
    for marker, name in (("<|im_start|>", "ChatML"), ("<|start_header_id|>", "Llama 3"), ("[gMASK]", "GLM"),
                         ("<｜Assistant｜>", "DeepSeek")):
        if marker in template:
            return f"{name} #{hashlib.sha1(template.encode()).hexdigest()[:6]}"
    return f"custom #{hashlib.sha1(template.encode()).hexdigest()[:6]}"


def side_label(spec: str) -> str:
    """How a side is shown: "base: <model>", "<run id> (final)" or "<run id> @ checkpoint-N"."""
    if spec.startswith("run:"):
        run_id, _, point = spec[4:].partition("@")
        return f"{run_id} @ {point}" if point else f"{run_id} (final)"
    return f"base: {spec.removeprefix('base:')}"


def side_choices(manager: Any) -> list[tuple[str, str]]:
    """(label, spec) for the bundled model, every completed run's base, final model and checkpoints."""
    specs = [f"base:{DEFAULT_MODEL}"]
    for row in manager.list_runs():
        run_id = row["run_id"]
        try:
            run = manager.run(run_id)
            config = run.config()
        except Exception:  # a damaged run folder: leave it out of the list
            continue
        specs.append(f"base:{config.model_name_or_path}")
        if run.final_path.is_dir():
            specs.append(f"run:{run_id}")
        if not _residual_checkpoints(config):
            specs += [f"run:{run_id}@{point.name}" for point in reversed(run.checkpoints())]
    return [(side_label(spec), spec) for spec in dict.fromkeys(specs)]
