"""Named API endpoints for every Train action, callable with gradio_client.

Each returns plain JSON; engine errors come back as Gradio errors with the message the UI shows.
"""

from __future__ import annotations

import gradio as gr

from engine.service import build_config
from tabs.context import AppContext
from tabs.errors import gradio_errors


def register(ctx: AppContext) -> None:
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
