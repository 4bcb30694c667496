"""Named API endpoints for every Train and Dataset Explorer action, callable with gradio_client (the
Environment and Model Hub ones are in api_models.py).

Each returns plain JSON; engine errors come back as Gradio errors with the message the UI shows.
"""

from __future__ import annotations

import json

import gradio as gr

from engine.config.field_info import DEFAULT_MODEL
from engine.config.presets import build_config
from engine.config.train_config import TrainConfig
from engine.data.clean import CleanOptions
from engine.data.explorer import DatasetChoice
from engine.errors import DataError
from engine.planning.fit_plan import FitRequest
from engine.sizing.planner import PlanGoal
from tabs.api_chat import register_chat
from tabs.api_models import register_models
from tabs.context import AppContext
from tabs.errors import gradio_errors


def register(ctx: AppContext) -> set[str]:
    """Register every endpoint; returns their names (all other event handlers are UI-internal)."""
    manager, door = ctx.door.manager, ctx.door

    def start_run(yaml_text: str = "", preset: str = "", overrides: str = "") -> str:
        """Start (or queue) a run from YAML text or a preset name, plus overrides as YAML/JSON; returns the run id."""
        return door.start(build_config(yaml_text, preset, overrides))

    def list_runs() -> list[dict]:
        """Every run in the outputs folder, newest first, with its name, tags, state, progress and loss."""
        return manager.list_runs()

    def search_runs(query: str) -> list[dict]:
        """The runs whose id, name, tags, model, method or state hold every word of `query` (any case)."""
        return manager.search(query)

    def label_run(run_id: str, name: str | None = None, tags: str | None = None) -> dict:
        """Name a run and tag it (tags separated by commas); its id stays, and a field not given (null) keeps
        what was saved. Returns the name and tags saved."""
        return manager.label(run_id, name, tags)

    def get_run(run_id: str) -> dict:
        """A run's status, its last 20 metric events and its checkpoints."""
        return door.run_detail(run_id)

    def stop_run(run_id: str) -> str:
        """Stop a run after its current step (saving a checkpoint), or drop it from the queue."""
        return manager.stop(run_id)

    def resume_run(run_id: str, checkpoint: str = "") -> str:
        """Resume a stopped or failed run from its latest (or the named) checkpoint."""
        return door.resume(run_id, checkpoint)

    def retry_with_plan(run_id: str) -> str:
        """A run that ran out of memory, started again as a new run with the fit planner's next setting (the
        failed run's `retry_with` in its status); returns the new run id."""
        return door.retry_planned(run_id)

    def delete_run(run_id: str) -> str:
        """Delete a run's folder (never the model or dataset it used)."""
        manager.delete(run_id)
        return "deleted"

    def run_log(run_id: str, lines: int = 100) -> str:
        """The last lines of a run's train.log."""
        return manager.run(run_id).log_tail(int(lines))

    def compare_runs(run_ids: list[str]) -> dict:
        """Two to eight runs side by side: each one's curves (loss, eval_loss, lr, reward, … by step and by
        tokens seen), final loss, best eval loss and its step, comparison-report scores, and the config fields
        whose values differ between them."""
        return manager.compare(list(run_ids))

    def run_lineage(run_id: str) -> dict:
        """Where a run came from and what came out of it: lineage.json (base model with revision and weight
        hashes, datasets with file hashes and rows used, parent, settings hash, exports with file hashes) and
        the graph across runs (nodes with their key facts, edges)."""
        return manager.lineage(run_id)

    def fit_plan(model: str = DEFAULT_MODEL, dataset: str = "", method: str = "sft", goal: str = "fastest",
                 effective_batch: int = 16, yaml_text: str = "", measure: bool = True, memory_gb: float = 0.0,
                 lang: str = "en") -> dict:
        """Fit to this machine: the settings that train `model` on `dataset` by `method` within the memory here,
        for goal fastest / quality (full, LoRA, QLoRA 8, QLoRA 4 in that order) / context (the longest
        max_seq_length), keeping batch × accumulation = `effective_batch`. Starts from `yaml_text` when given.
        Returns `config` (ready for start_run), `changes`, `memory` (weights, trainable state, activations,
        overhead in GiB), `budget`, `time` (seconds per step measured here at the planned shapes, steps, total)
        and `reasons` (in `lang`: en or zh). Measuring loads the model: seconds to a minute."""
        base = build_config(yaml_text, "", "") if yaml_text.strip() else TrainConfig()
        config = base.replace(model_name_or_path=model or base.model_name_or_path, dataset=dataset or base.dataset,
                              method=method or base.method)
        request = FitRequest(config, PlanGoal(goal, int(effective_batch)), bool(measure), float(memory_gb))
        return door.fit_plan(request).to_dict("zh" if lang == "zh" else "en")

    endpoints = (start_run, list_runs, search_runs, label_run, get_run, stop_run, resume_run, delete_run, run_log,
                 compare_runs, run_lineage, fit_plan, retry_with_plan)
    for fn in endpoints:
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    names = {fn.__name__ for fn in endpoints}
    return names | register_data(ctx) | register_models(ctx) | register_chat(ctx)


def _choice(source: str, format: str, columns: str, model: str, max_len: int, train_on_prompt: bool = False,
            mask_history: bool = False, mix: str = "", mix_strategy: str = "concat") -> DatasetChoice:
    try:
        mapping = json.loads(columns) if columns and columns.strip() else {}
    except json.JSONDecodeError as exc:
        raise DataError(f"columns: not valid JSON ({exc.msg}); give a mapping such as "
                        '{"prompt": "question", "response": "answer"}') from exc
    if not isinstance(mapping, dict):
        raise DataError('columns: expected a JSON object such as {"prompt": "question"}')
    return DatasetChoice(source, format or "auto", {str(k): str(v) for k, v in mapping.items()},
                         model or DEFAULT_MODEL, int(max_len or 1024), bool(train_on_prompt), bool(mask_history),
                         mix or "", mix_strategy or "concat")


def register_data(ctx: AppContext) -> set[str]:
    explorer = ctx.door.explorer

    def inspect_dataset(source: str, format: str = "auto", columns: str = "", model: str = "", max_len: int = 1024,
                        token_sample: int = 20000, mix: str = "", mix_strategy: str = "concat") -> dict:
        """Format (with its evidence), column mapping, rows, bad rows and statistics of a dataset: a file path,
        folder, folder:entry or hub id. Token lengths come from `model`'s tokenizer and chat template on every
        row up to `token_sample` rows (a uniform sample beyond). Several datasets (comma-separated) are
        inspected as a run mixes them (`mix` shares, `mix_strategy`): each one's share is in `mix`. Waits for
        the result."""
        choice = _choice(source, format, columns, model, max_len, mix=mix, mix_strategy=mix_strategy)
        stats = explorer.inspect(choice, int(token_sample)).to_dict()
        for key in ("prompt_lengths", "answer_lengths", "total_lengths"):
            stats.pop(key)  # dataset_histogram gives their distribution
        return stats

    def inspect_dataset_start(source: str, format: str = "auto", columns: str = "", model: str = "",
                              max_len: int = 1024, token_sample: int = 20000, mix: str = "",
                              mix_strategy: str = "concat") -> str:
        """Start inspect_dataset as a background job; returns a job id for dataset_job_status."""
        choice = _choice(source, format, columns, model, max_len, mix=mix, mix_strategy=mix_strategy)
        return explorer.start_inspect(choice, int(token_sample))

    def dataset_job_status(job_id: str) -> dict:
        """State (running/done/failed/cancelled), progress 0–1, message and error of a dataset job."""
        return explorer.jobs.status(job_id)

    def cancel_dataset_job(job_id: str) -> str:
        """Ask a dataset job to stop; returns 'cancelling' or its final state."""
        return explorer.jobs.cancel(job_id)

    def preview_samples(source: str, page: int = 1, page_size: int = 5, format: str = "auto", columns: str = "",
                        model: str = "", max_len: int = 1024, train_on_prompt: bool = False,
                        mask_history: bool = False, mix: str = "", mix_strategy: str = "concat") -> dict:
        """One page of rows rendered through the model's chat template, each token marked trained, masked
        or cut, exactly as the training collator labels it (`mask_history`: only the last answer trained).
        Several datasets (comma-separated) page through their mix in training order, each row naming its
        dataset."""
        choice = _choice(source, format, columns, model, max_len, train_on_prompt, mask_history, mix, mix_strategy)
        return explorer.preview(choice, int(page), int(page_size))

    def dataset_histogram(source: str, format: str = "auto", columns: str = "", model: str = "",
                          max_len: int = 1024, bins: int = 40, mix: str = "", mix_strategy: str = "concat") -> dict:
        """Token-length histograms (prompt, answer, total) with the max-length line, truncation counts and
        the suggested max length (of the mix, for several datasets)."""
        choice = _choice(source, format, columns, model, max_len, mix=mix, mix_strategy=mix_strategy)
        return explorer.histogram(choice, int(bins))

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
