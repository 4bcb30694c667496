"""The model card (README.md with the YAML metadata the Hugging Face Hub reads) written into every export:
base model, datasets, licence, training settings, results and the hashes of what it was made from."""

from __future__ import annotations

from typing import Any

from engine.config.datasets import dataset_parts
from engine.locations import project_path
from engine.runs.compare import report_scores
from engine.runs.lineage import read_lineage
from engine.runs.rundir import RunDir, loss_text
from engine.sizing.catalog import find

SETTINGS = ("method", "finetuning_type", "lora_r", "lora_alpha", "learning_rate", "lr_scheduler_type",
            "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
            "max_seq_length", "packing", "precision", "seed")


def _hub_id(name: str) -> str | None:
    """A name the Hub can link to: org/name, and not a folder on this machine."""
    text = (name or "").strip()
    return text if text.count("/") == 1 and not text.startswith((".", "/", "~")) and \
        not project_path(text).exists() else None


def _licence(model: str) -> dict[str, str]:
    known = find(model)
    text = (known.licence if known else "").lower()
    for spdx in ("apache-2.0", "mit"):
        if text == spdx:
            return {"license": spdx}
    return {"license": "other", "license_name": known.licence} if known else {}


def model_card(run: RunDir, export_format: str, quant: str | None = None, check: dict[str, Any] | None = None
               ) -> str:
    from huggingface_hub import ModelCard, ModelCardData

    config, status, lineage = run.config(), run.status(), read_lineage(run)
    base = _hub_id(config.model_name_or_path)
    datasets = [d for d in (_hub_id(part) for part in dataset_parts(config.dataset)) if d]
    tags = ["tunedesk", config.method, config.finetuning_type] + (["gguf"] if export_format == "gguf" else [])
    data = ModelCardData(base_model=base, datasets=datasets or None, library_name={"adapter": "peft", "merged":
                         "transformers"}.get(export_format), pipeline_tag="text-generation", tags=tags,
                         **_licence(config.model_name_or_path))
    scores = report_scores(run)
    lines = [f"# {run.run_id}", "",
             f"Fine-tuned with TuneDesk from `{config.model_name_or_path}` by {config.method.upper()} "
             f"({config.finetuning_type}); exported as {export_format}" + (f" ({quant})" if quant else "") + ".", "",
             "## Training", "", "| setting | value |", "|---|---|",
             *(f"| `{name}` | {getattr(config, name)} |" for name in SETTINGS if config.applies(name)),
             f"| steps trained | {status.get('step')} |",
             f"| final training loss | {loss_text(status.get('final_loss'))} |",
             "", "## Data", ""]
    for entry in lineage.get("datasets", []) or [{"spec": part} for part in dataset_parts(config.dataset)]:
        files = ", ".join(f"`{f['name']}` sha256 {f['sha256'][:12]}" for f in entry.get("files", []))
        lines.append(f"- `{entry['spec']}`: {entry.get('rows_used', '?')} rows used" + (f"; {files}" if files else ""))
    if scores:
        lines += ["", "## Results (TuneDesk's comparison report)", "", "| score | value |", "|---|---|",
                  *(f"| {key} | {value} |" for key, value in scores.items())]
    base_info: dict[str, Any] = lineage.get("base") or {}
    lines += ["", "## Lineage", "", f"- settings sha256: `{lineage.get('settings_sha256', '?')}`",
              f"- base model: `{base_info.get('model', config.model_name_or_path)}`"
              + (f" at revision `{base_info['revision']}`" if base_info.get("revision") else ""),
              *(f"  - `{w['name']}` sha256 `{w['sha256']}`" for w in base_info.get("weights", []))]
    parent = lineage.get("parent")
    if parent:
        lines.append(f"- continued from `{parent['spec']}`")
    if check:
        lines += ["", "## Export check", "",
                  f"Read back with {check['reader']} and asked {check['prompts']} prompts greedily against the run's "
                  f"own model: {check['summary']} (token agreement {check['agreement']:.1%})."]
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n"))
