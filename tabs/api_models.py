"""Named API endpoints of the Environment and Model Hub tabs, callable with gradio_client.

Each returns plain JSON; engine errors come back as Gradio errors with the message the UI shows. Hub
tokens are used for the call and never stored."""

from __future__ import annotations

import gradio as gr

from engine.errors import ModelError
from engine.hub.disk import list_models
from engine.hub.info import search_models as search_hub
from engine.hub.model_page import model_page as page_of
from engine.sizing.fit import METHODS, catalog_table
from engine.sizing.memory import Setting
from tabs.context import AppContext
from tabs.errors import gradio_errors


def register_models(ctx: AppContext) -> set[str]:
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
        return ctx.door.estimate(model, setting, fetch=True)

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
        return ctx.door.delete_model(folder, bool(delete_files))

    def register_local_model(path: str) -> dict:
        """Register a local model folder (config, tokenizer and weights are checked) or a .gguf file; it then
        appears among the Train tab's models."""
        return ctx.door.register_model(path)

    def model_structure(model: str) -> dict:
        """A model's structure without reading weights (built on the meta device from its config): module tree,
        parameter treemap (ids, labels, parents, values), parameters by layer type, layers, hidden size,
        heads, KV heads, vocabulary, context. `model` is a catalogue name or id, a local folder, or any hub id
        (its config.json is fetched)."""
        return ctx.door.model_structure(model, fetch=True)


    def search_models(query: str, source: str = "hf", endpoint: str = "", token: str = "", limit: int = 20) -> list:
        """Search Hugging Face (source hf, or a mirror given as endpoint) or ModelScope (modelscope); auto takes
        the first hub that answers. Rows: id, hub, downloads, likes, task, updated, gated. Offline: an error
        within seconds saying what to do."""
        return search_hub(query, source, endpoint, token, int(limit))

    def model_info(repo: str, source: str = "auto", endpoint: str = "", token: str = "") -> dict:
        """A hub model's page: licence, gated, files and download size, architecture and parameters computed
        from its config.json (`shape`), chat template present (and its text), the model card, and its
        memory for full / LoRA / QLoRA-4 on this machine."""
        return page_of(repo, source, endpoint, token)

    def download_model(repo: str, source: str = "auto", endpoint: str = "", token: str = "",
                       gguf_file: str = "") -> str:
        """Start downloading a hub model as a background job (one at a time; others queue) and return its job
        id. Source auto / hf / modelscope (auto: ModelScope first in mainland China, the other on failure);
        endpoint: a Hugging Face mirror (HF_ENDPOINT); token: used for this download only, never stored.
        Starting a stopped or interrupted download again continues from its partial files."""
        return ctx.door.downloads.start(repo, source, endpoint, token, gguf_file)

    def download_status(job_id: str = "") -> dict:
        """A download's state, bytes, total, speed_bps, eta_s, files, folder and load checks; without a job id,
        every download this app knows (`downloads`), including ones interrupted by a restart."""
        return ctx.door.downloads.status(job_id)

    def cancel_download(job_id: str, discard_partial: bool = False) -> str:
        """Stop a download within a second. Its partial files stay for a later resume unless discard_partial."""
        return ctx.door.downloads.cancel(job_id, bool(discard_partial))

    extra = (env_report, estimate_memory, model_catalog, list_cached_models, delete_cached_model,
             register_local_model, model_structure, search_models, model_info, download_model, download_status,
             cancel_download)
    for fn in extra:
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    return {fn.__name__ for fn in extra}
