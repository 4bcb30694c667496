"""Named API endpoints of the Compare Chat tab and the Train tab's Export panel, callable with gradio_client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from engine.errors import TuneDeskError
from engine.evaluation.batch import CompareRequest
from engine.export.exporter import ExportRequest
from engine.inference.decode import Sampling
from engine.inference.sides import side_choices
from tabs.context import AppContext
from tabs.errors import gradio_errors


def register_chat(ctx: AppContext) -> set[str]:
    def chat_sides() -> list:
        """What a side can be: the bundled model, each run's base, each completed run's final model and its
        checkpoints, as [label, spec] pairs (spec: base:<model>, run:<id>, run:<id>@checkpoint-N)."""
        return [list(c) for c in side_choices(ctx.door.manager)]

    def list_checkpoints(run_id: str) -> list:
        """A run's checkpoints (name, step, whether it holds a complete model or adapter) and its final model."""
        run = ctx.door.manager.run(run_id)
        out = []
        for point in [*run.checkpoints(), run.final_path]:
            if point.is_dir():
                complete = (point / "adapter_config.json").is_file() or (point / "config.json").is_file()
                step = int(point.name.split("-")[-1]) if point.name.startswith("checkpoint-") else None
                out.append({"name": point.name, "step": step, "complete": complete,
                            "spec": f"run:{run_id}" + ("" if point.name == "final" else f"@{point.name}")})
        return out

    def chat_compare(left: str, right: str, message: str, system: str = "", temperature: float = 0.0,
                     top_p: float = 1.0, top_k: int = 0, max_new_tokens: int = 256, repetition_penalty: float = 1.0,
                     seed: int = 0) -> dict:
        """The same message to both sides (see chat_sides), same sampling; returns both answers, each side's
        label and chat template, and warnings (the tab streams the same answers token by token)."""
        sampling = Sampling.of(temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
                               repetition_penalty=repetition_penalty, seed=seed)
        return ctx.door.chat_once(left, right, message, system, sampling)

    def chat_stream(left: str, right: str, message: str, system: str = "", temperature: float = 0.0,
                    top_p: float = 1.0, top_k: int = 0, max_new_tokens: int = 256, repetition_penalty: float = 1.0,
                    seed: int = 0) -> Iterator[list]:
        """chat_compare, streamed: yields [left text, right text] as both answers grow."""
        sampling = Sampling.of(temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
                               repetition_penalty=repetition_penalty, seed=seed)
        try:
            for pair in ctx.door.chat_stream(left, right, message, None, system, sampling):
                yield list(pair)
        except TuneDeskError as exc:
            raise gr.Error(str(exc)) from exc

    def batch_compare(left: str, right: str, questions: str = "", split: str = "auto", general: bool = True,
                      max_new_tokens: int = 128, limit: int = 200) -> dict:
        """Both sides answer a questions file (json/jsonl/csv; question + optional answer / facts columns) or
        the run's validation/test split, plus TuneDesk's general questions: BLEU-4, ROUGE-L, perplexity,
        questions right, leaks; waits and returns the summary and the saved report's paths (`saved`)."""
        request = CompareRequest(left, right, questions, split, bool(general), int(max_new_tokens), int(limit))
        job_id = ctx.door.compare(request)
        report: dict[str, Any] = ctx.door.comparer.jobs.wait(job_id)
        return {"summary": report["summary"], "saved": report["saved"], "left": report["left"],
                "right": report["right"], "rows": len(report["rows"])}

    def export_model(run_id: str, format: str = "gguf", checkpoint: str = "", quant: str = "q8_0",
                     shard_size: str = "2GB", destination: str = "", overwrite: bool = False, hub_repo: str = "",
                     hub: str = "hf", private: bool = True, token: str = "", verify: bool = True) -> str:
        """Export a run (or checkpoint-N) as a background job; returns its job id for export_status. format:
        merged (safetensors, sharded), adapter, or gguf (quant f16 / bf16 / q8_0, or q4_k_m / q5_k_m / q6_k / …
        with llama-cpp-python installed; with an Ollama Modelfile); destination defaults to
        <run>/export/<format>; nothing existing is replaced unless overwrite; hub_repo also pushes it (token
        used for the push only, never saved). verify (merged / gguf): read the export back and compare its
        greedy answers, chat template and stop tokens with the run's own model (result["check"])."""
        request = ExportRequest(run_id, format, checkpoint, quant, shard_size, destination, bool(overwrite),
                                hub_repo, hub, bool(private), verify=bool(verify))
        return ctx.door.export(request, token)

    def check_export(folder: str) -> dict:
        """Run an export's round-trip check again from its folder (it saved the run's reference answers in
        export_check.json): ok, summary, problems, identical / prompts, agreement, template_ok, stops_ok."""
        return ctx.door.check_export(folder)

    def export_status(job_id: str) -> dict:
        """An export's state, progress and message; when done, `result` with the folder, files, size, the GGUF
        path, where it was pushed, and `check` (its round-trip check: ok, summary, problems, agreement)."""
        job = ctx.door.exporter.jobs.get(job_id)
        return {**job.status(), "result": job.result if job.state == "done" else None}

    fns = (chat_sides, list_checkpoints, chat_compare, batch_compare, export_model, export_status, check_export)
    for fn in fns:
        gr.api(gradio_errors(fn), api_name=fn.__name__)
    gr.api(chat_stream, api_name="chat_stream")
    return {fn.__name__ for fn in fns} | {"chat_stream"}
