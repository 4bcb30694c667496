"""Named API endpoints for every Train and Dataset Explorer action, callable with gradio_client.

Each returns plain JSON; engine errors come back as Gradio errors with the message the UI shows.
"""

from __future__ import annotations

import json

import gradio as gr

from engine.config import DEFAULT_MODEL
from engine.data.clean import CleanOptions
from engine.data.explorer import DatasetChoice
from engine.errors import DataError, ModelError
from engine.modelhub.cache import delete_model, list_models
from engine.modelhub.local import register as register_model
from engine.modelhub.structure import model_structure as structure_of
from engine.service import build_config
from engine.sizing.fit import METHODS, catalog_table, estimate_for
from engine.sizing.memory import Setting
from tabs.context import AppContext
from tabs.errors import gradio_errors


def register(ctx: AppContext) -> set[str]:
    """Register every endpoint; returns their names (all other event handlers are UI-internal)."""
    manager, service = ctx.manager, ctx.service

    def start_run(yaml_text: str = "", preset: str = "", overrides: str = "") -> str:
        """Start (or queue) a run from YAML text or a preset name, plus overrides as YAML/JSON; returns the run id."""
        return service.start(build_config(yaml_text, preset, overrides))

    def list_runs() -> list[dict]:
        """Every run in the outputs folder, newest first, with state, progress and loss."""
        return manager.list_runs()

    def get_run(run_id: str) -> dict:
        """A run's status, its last 20 metric events and its checkpoints."""
        return service.run_detail(run_id)

    def stop_run(run_id: str) -> str:
        """Stop a run after its current step (saving a checkpoint), or drop it from the queue."""
        return manager.stop(run_id)

    def resume_run(run_id: str, checkpoint: str = "") -> str:
        """Resume a stopped or failed run from its latest (or the named) checkpoint."""
        return manager.resume(run_id, checkpoint or None)

    def delete_run(run_id: str) -> str:
        """Delete a run's folder (never the model or dataset it used)."""
        manager.delete(run_id)
        return "deleted"

    def run_log(run_id: str, lines: int = 100) -> str:
        """The last lines of a run's train.log."""
        return manager.run(run_id).log_tail(int(lines))

    for fn in (start_run, list_runs, get_run, stop_run, resume_run, delete_run, run_log):
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    def env_report(probe_hubs: bool = True) -> dict:
        """This machine: OS, CPU and its instruction sets, RAM, disks, GPUs, torch/CUDA, the dependency matrix
        and readiness checks (QLoRA, bf16, SDPA, flash-attention, multi-GPU, hubs reachable); `markdown` is
        the same as a report to paste into a bug report."""
        return ctx.environment.refresh(probe_hubs)

    def estimate_memory(model: str, method: str = "lora", max_len: int = 1024, batch: int = 2,
                        gradient_checkpointing: bool = False, precision: str = "auto", stage: str = "sft",
                        lora_rank: int = 8) -> dict:
        """Peak training memory of a model (catalogue name, hub id or local folder; read from config.json, no
        weights) for method full/lora/qlora4/qlora8 and stage sft/dpo/pt: weights, trainable state,
        activations and overhead in GiB, the verdict on this machine's largest GPU (or RAM), and the nearest
        setting that fits."""
        if method not in METHODS:
            raise ModelError(f"method '{method}': use one of {', '.join(METHODS)}")
        setting = Setting(method, stage, int(max_len), int(batch), bool(gradient_checkpointing), precision,
                          int(lora_rank))
        return estimate_for(model, setting)

    def model_catalog(method: str = "lora", max_len: int = 1024, batch: int = 1, fits_only: bool = False) -> list:
        """The curated models (parameters, context, licence, Hugging Face and ModelScope ids) with each one's
        estimated peak memory for `method` on this machine and whether it fits."""
        return catalog_table(method, int(max_len), int(batch), bool(fits_only))

    def list_cached_models() -> list:
        """Every model on disk: the bundled SmolLM2, the Hugging Face and ModelScope caches, TuneDesk's
        converted GGUF cache and registered local folders, each with its size and folder."""
        return list_models()

    def delete_cached_model(folder: str, delete_files: bool = False) -> str:
        """Delete one model listed by list_cached_models (by its folder). A registered local folder is only
        unregistered unless delete_files. Refused on a shared or password-protected app."""
        if ctx.service.guard.active:
            raise ModelError("deleting models is only possible in a local app, not through a shared or "
                             "password-protected one")
        return delete_model(folder, bool(delete_files))

    def register_local_model(path: str) -> dict:
        """Register a local model folder (config, tokenizer and weights are checked) or a .gguf file; it then
        appears among the Train tab's models."""
        ctx.service.guard.check_path(path, "model")
        return register_model(path.strip())

    def model_structure(model: str) -> dict:
        """A model's structure without reading weights (built on the meta device from its config): module tree,
        parameter treemap (ids, labels, parents, values), parameters by layer type, layers, hidden size,
        heads, KV heads, vocabulary, context. `model` is a catalogue name or id, or a local folder."""
        ctx.service.guard.check_path(model, "model")
        return structure_of(model.strip())

    extra = (env_report, estimate_memory, model_catalog, list_cached_models, delete_cached_model,
             register_local_model, model_structure)
    for fn in extra:
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    return {fn.__name__ for fn in (start_run, list_runs, get_run, stop_run, resume_run, delete_run, run_log,
                                   *extra)} | register_data(ctx)


def _choice(source: str, format: str, columns: str, model: str, max_len: int, train_on_prompt: bool = False
            ) -> DatasetChoice:
    try:
        mapping = json.loads(columns) if columns and columns.strip() else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"columns: not valid JSON ({exc.msg}); give a mapping such as "
                        '{"prompt": "question", "response": "answer"}') from exc
    if not isinstance(mapping, dict):
        raise DataError('columns: expected a JSON object such as {"prompt": "question"}')
    return DatasetChoice(source, format or "auto", {str(k): str(v) for k, v in mapping.items()},
                         model or DEFAULT_MODEL, int(max_len or 1024), bool(train_on_prompt))


def register_data(ctx: AppContext) -> set[str]:
    explorer = ctx.explorer

    def inspect_dataset(source: str, format: str = "auto", columns: str = "", model: str = "", max_len: int = 1024,
                        token_sample: int = 20000) -> dict:
        """Format (with its evidence), column mapping, rows, bad rows and statistics of a dataset: a file path,
        folder, folder:entry or hub id. Token lengths come from `model`'s tokenizer and chat template on every
        row up to `token_sample` rows (a uniform sample beyond). Waits for the result."""
        stats = explorer.inspect(_choice(source, format, columns, model, max_len), int(token_sample)).to_dict()
        for key in ("prompt_lengths", "answer_lengths", "total_lengths"):
            stats.pop(key)  # dataset_histogram gives their distribution
        return stats

    def inspect_dataset_start(source: str, format: str = "auto", columns: str = "", model: str = "",
                              max_len: int = 1024, token_sample: int = 20000) -> str:
        """Start inspect_dataset as a background job; returns a job id for dataset_job_status."""
        return explorer.start_inspect(_choice(source, format, columns, model, max_len), int(token_sample))

    def dataset_job_status(job_id: str) -> dict:
        """State (running/done/failed/cancelled), progress 0–1, message and error of a dataset job."""
        return explorer.jobs.status(job_id)

    def cancel_dataset_job(job_id: str) -> str:
        """Ask a dataset job to stop; returns 'cancelling' or its final state."""
        return explorer.jobs.cancel(job_id)

    def preview_samples(source: str, page: int = 1, page_size: int = 5, format: str = "auto", columns: str = "",
                        model: str = "", max_len: int = 1024, train_on_prompt: bool = False) -> dict:
        """One page of rows rendered through the model's chat template, each token marked trained, masked
        or cut, exactly as the training collator labels it."""
        choice = _choice(source, format, columns, model, max_len, train_on_prompt)
        return explorer.preview(choice, int(page), int(page_size))

    def dataset_histogram(source: str, format: str = "auto", columns: str = "", model: str = "",
                          max_len: int = 1024, bins: int = 40) -> dict:
        """Token-length histograms (prompt, answer, total) with the max-length line, truncation counts and
        the suggested max length."""
        return explorer.histogram(_choice(source, format, columns, model, max_len), int(bins))

    def clean_dataset(source: str, name: str, options: str = "", format: str = "auto", columns: str = "",
                      model: str = "") -> dict:
        """Deduplicate, drop bad rows, filter by token length, shuffle and split, then save as
        <outputs>/datasets/NAME/{train,valid,test}.jsonl with a dataset card. `options` is JSON with
        dedupe (none/exact/normalized), drop_bad, min_tokens, max_tokens, shuffle, seed, valid_size,
        test_size, overwrite. Returns the saved path and counts."""
        try:
            extra = json.loads(options) if options and options.strip() else {}
            clean = CleanOptions(name=name, **extra)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(f"options: {exc}. Known options: {', '.join(CleanOptions.__dataclass_fields__)}") from exc
        return vars(explorer.clean(_choice(source, format, columns, model, 1024), clean))

    def save_dataset_mapping(source: str, name: str, format: str = "auto", columns: str = "") -> str:
        """Save a file's column mapping for training; returns the dataset spec to train with."""
        return explorer.save_mapping(_choice(source, format, columns, "", 1024), name)

    def list_datasets() -> list[dict]:
        """Datasets saved in the workspace (cleaned copies and saved mappings), with the spec to train on."""
        return explorer.datasets()

    endpoints = (inspect_dataset, inspect_dataset_start, dataset_job_status, cancel_dataset_job, preview_samples,
                 dataset_histogram, clean_dataset, save_dataset_mapping, list_datasets)
    for fn in endpoints:
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    return {fn.__name__ for fn in endpoints}
