"""The Train tab: form, presets, run controls, runs table and the live view.

The live view belongs to no event: a gr.Timer polls the engine's shared state, so a refreshed page
or a second browser shows the running job as it is. Per-browser state is only which run is shown
and what was last drawn (to skip redrawing unchanged charts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from engine.access.door import Door
from engine.config.presets import load_preset, preset_description, preset_paths
from engine.config.train_config import TrainConfig
from engine.config.yaml_io import load_yaml
from engine.errors import ConfigError, ModelError
from engine.evaluation.batch import summary_line
from engine.hub.disk import list_models
from engine.inference.pool import POOL
from engine.runs.rundir import ACTIVE, read_json
from engine.sizing.memory import Setting
from tabs import export_panel
from tabs.charts import hardware_figure, loss_figure, reward_figure, training_figure
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.train_form import KNOWN_MODELS, SAMPLE_DATASETS, TrainForm, command_preview
from tabs.translate import Translator

# On a 2-core machine every redraw in the browser competes with training; both are tunable.
REFRESH_S = float(os.environ.get("TUNEDESK_REFRESH_S", "2"))
HARDWARE_EVERY_S = float(os.environ.get("TUNEDESK_HARDWARE_EVERY_S", "5"))
DEFAULT_PRESET = "cpu_demo_smollm2_lora"
RUN_COLUMNS = ("col_run", "col_model", "col_method", "col_state", "col_progress", "col_loss", "col_started",
               "col_duration")


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def runs_frame(runs: list[dict[str, Any]], lang: str) -> pd.DataFrame:
    rows = []
    for r in runs:
        started = time.strftime("%m-%d %H:%M", time.localtime(r["started_at"])) if r["started_at"] else "–"
        loss = r["final_loss"] if r["final_loss"] is not None else r["last_loss"]
        rows.append([r["run_id"], Path(str(r["model"])).name, r["method"], r["state"],
                     f"{r['step']}/{r['max_steps']} ({r['progress'] * 100:.0f}%)",
                     f"{loss:.4f}" if isinstance(loss, (int, float)) else "–", started, _fmt_s(r["duration_s"])])
    return pd.DataFrame(rows, columns=[t(c, lang) for c in RUN_COLUMNS])


def progress_html(status: dict[str, Any], lang: str) -> str:
    state = status.get("state", "")
    started = status.get("started_at")
    elapsed = ((status.get("ended_at") or time.time()) - started) if started else None
    text = t("progress", lang, step=status.get("step", 0), total=status.get("max_steps") or "?",
             epoch=f"{status.get('epoch') or 0:.2f}", elapsed=_fmt_s(elapsed),
             eta=_fmt_s(status.get("eta_s")) if state == "running" else "–",
             state=t(f"state_{state}", lang) if state else "")
    return bar_html("run-progress", float(status.get("progress") or 0), text, state,
                    data={"step": status.get("step", 0)})


def alerts_markdown(status: dict[str, Any], lang: str) -> str:
    lines = [f"⚠️ {a['message']}" for a in status.get("alerts", [])]
    state = status.get("state")
    if state == "failed":
        title = t("alert_oom", lang) if "out of memory" in str(status.get("error")) else t("alert_failed", lang)
        lines.insert(0, f"❌ **{title}:** {status.get('error')}  \n💡 {status.get('suggestion') or ''}")
    elif state == "completed":
        lines.insert(0, f"✅ **{t('alert_done', lang)}** — {t('col_loss', lang)} {status.get('final_loss')}")
    elif state == "stopped":
        lines.insert(0, f"⏸️ {t('alert_stopped', lang)}")
    return "\n\n".join(lines)


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> TrainForm:
    manager, door = ctx.door.manager, ctx.door
    presets = preset_paths()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=480):
            with gr.Row():
                preset = gr.Dropdown(choices=list(presets), value=DEFAULT_PRESET if DEFAULT_PRESET in presets else None,
                                     label=t("preset", tr.lang), elem_id="preset", scale=3)
                tr.label(preset, "preset")
                load_btn = tr.button("load_preset", elem_id="load-preset", scale=1)
                upload = tr.label(gr.File(label=t("upload_yaml", tr.lang), file_types=[".yaml", ".yml"], scale=2,
                                          height=90), "upload_yaml")
                save_btn = tr.button("save_yaml", scale=1)
                saved = gr.File(visible=False, interactive=False, scale=2)
            preset_help = gr.Markdown(preset_description(presets[DEFAULT_PRESET], tr.lang)
                                      if DEFAULT_PRESET in presets else "")
            initial = load_preset(DEFAULT_PRESET) if DEFAULT_PRESET in presets else TrainConfig()
            # the run controls and the memory verdict sit above the long form, always in view
            with gr.Column(elem_id="train-controls"):
                with gr.Row():
                    start_btn = tr.button("start", variant="primary", elem_id="start")
                    stop_btn = tr.button("stop", variant="stop", elem_id="stop")
                    checkpoint = tr.label(gr.Dropdown(choices=[], label=t("checkpoint", tr.lang),
                                                      allow_custom_value=True), "checkpoint")
                    resume_btn = tr.button("resume", elem_id="resume")
                    delete_btn = tr.button("delete", elem_id="delete")
                    confirm_btn = tr.button("confirm_delete", variant="stop", visible=False,
                                            elem_id="confirm-delete")
                fit_box = gr.Markdown(fit_markdown(ctx.door, initial, tr.lang), elem_id="fit-verdict")
            message = gr.Markdown(elem_id="action-message")
            form = TrainForm(tr, initial)
            with gr.Accordion(t("preview", tr.lang), open=False) as preview_acc:
                first_yaml, first_cmd = command_preview(initial)
                yaml_view = gr.Code(first_yaml, language="yaml", interactive=False)
                cmd_view = gr.Code(first_cmd, language="shell", interactive=False)
            tr.label(preview_acc, "preview")

        with gr.Column(scale=6, min_width=480):
            # --- live view ---
            with gr.Row():
                selected = tr.label(gr.Dropdown(choices=[], label=t("selected_run", tr.lang), elem_id="selected-run",
                                                allow_custom_value=True, scale=4), "selected_run")
                open_in_chat = tr.button("open_in_chat", elem_id="open-in-chat", scale=0, min_width=180)
            progress = gr.HTML(elem_id="progress-box")
            alerts = gr.Markdown(elem_id="alerts")
            loss_plot = gr.Plot(elem_id="loss-plot", show_label=False)
            reward_plot = gr.Plot(elem_id="reward-plot", show_label=False, visible=False)
            train_plot = gr.Plot(elem_id="train-plot", show_label=False)
            hw_plot = gr.Plot(elem_id="hw-plot", show_label=False)
            log_box = tr.label(gr.Textbox(label=t("log", tr.lang), lines=12, max_lines=12, autoscroll=True,
                                          elem_id="log-box"), "log")
            runs_table = tr.label(gr.Dataframe(label=t("runs", tr.lang), interactive=False, elem_id="runs-table",
                                               wrap=True), "runs")
            export_panel.build(ctx, tr, lang_state, selected)
            with gr.Accordion(t("config_of_run", tr.lang), open=False) as run_cfg_acc:
                run_config = gr.Code(language="yaml", interactive=False)
            tr.label(run_cfg_acc, "config_of_run")
    view = gr.State({"run": None, "sigs": {}, "state": None})
    timer = gr.Timer(REFRESH_S)

    # --- handlers: engine errors show in the page with the engine's message; nothing on the form is lost ---
    guard = gradio_errors(in_page=True)

    def apply_config(config: Any) -> list[Any]:
        yaml_text, cmd = command_preview(config)
        return [*form.values_of(config), yaml_text, cmd]

    @guard
    def on_load_preset(name: str, lang: str) -> list[Any]:
        if not name:
            raise ConfigError("pick a preset first")
        return [*apply_config(load_preset(name)), preset_description(presets[name], lang)]

    @guard
    def on_upload(path: str | None) -> list[Any]:
        if not path:
            return [gr.skip()] * (len(form.inputs) + 3)
        return [*apply_config(load_yaml(path)), f"`{Path(path).name}`"]

    form_outputs = [*form.inputs, yaml_view, cmd_view]
    load_btn.click(on_load_preset, [preset, lang_state], [*form_outputs, preset_help])
    preset.change(on_load_preset, [preset, lang_state], [*form_outputs, preset_help])
    upload.upload(on_upload, upload, [*form_outputs, preset_help])
    lang_state.change(lambda name, lang: preset_description(presets[name], lang) if name in presets else gr.skip(),
                      [preset, lang_state], preset_help, show_progress="hidden")

    @guard
    def on_preview(*values: Any) -> list[Any]:
        return list(command_preview(form.to_config(values)))

    for widget in form.inputs:
        widget.change(lambda *v: _quiet(on_preview, *v), form.inputs, [yaml_view, cmd_view], show_progress="hidden",
                      queue=False)

    def on_fit(lang: str, *values: Any) -> Any:
        try:
            return fit_markdown(ctx.door, form.to_config(values), lang)
        except ConfigError:
            return gr.skip()  # a half-typed value: keep the last verdict

    for name in FIT_FIELDS:
        form.widgets[name].change(on_fit, [lang_state, *form.inputs], fit_box, show_progress="hidden")

    @guard
    def on_save(*values: Any) -> Any:
        config = form.to_config(values)
        folder = ctx.door.manager.outputs / "configs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{config.run_name or 'tunedesk'}-{time.strftime('%Y%m%d-%H%M%S')}.yaml"
        path.write_text(config.to_yaml(), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    save_btn.click(on_save, form.inputs, saved)

    @guard
    def on_start(lang: str, state: dict[str, Any], *values: Any) -> tuple[str, dict[str, Any]]:
        chat_loaded = bool(POOL.loaded)
        run_id = door.start(form.to_config(values))
        busy = manager.current_run_id() not in (None, run_id) or len(manager.queued()) > 1
        note = t("queued" if busy else "started", lang, run_id=run_id)
        if chat_loaded:  # the worker frees them before the run starts
            note += "  \n" + t("chat_unloaded", lang)
        return note, {**state, "run": run_id, "sigs": {}}

    start_btn.click(on_start, [lang_state, view, *form.inputs], [message, view])

    @guard
    def on_stop(lang: str, state: dict[str, Any]) -> str:
        run_id = state.get("run") or manager.current_run_id()
        if not run_id:
            raise ConfigError("no run selected")
        result = manager.stop(run_id)
        return t("stopping", lang, run_id=run_id) if result == "stopping" else f"{run_id}: {result}"

    stop_btn.click(on_stop, [lang_state, view], message)

    @guard
    def on_resume(lang: str, state: dict[str, Any], point: str | None) -> tuple[str, dict[str, Any]]:
        if not state.get("run"):
            raise ConfigError("select a run to resume in the runs table first")
        run_id = door.resume(state["run"], point or "")
        return t("resumed", lang, run_id=run_id), {**state, "sigs": {}}

    resume_btn.click(on_resume, [lang_state, view, checkpoint], [message, view])
    delete_btn.click(lambda s: gr.update(visible=bool(s.get("run"))), view, confirm_btn)

    @guard
    def on_delete(lang: str, state: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
        run_id = state.get("run")
        if not run_id:
            raise ConfigError("no run selected")
        manager.delete(run_id)
        return t("deleted", lang, run_id=run_id), {**state, "run": None, "sigs": {}}, gr.update(visible=False)

    confirm_btn.click(on_delete, [lang_state, view], [message, view, confirm_btn])

    def on_select_row(state: dict[str, Any], evt: gr.SelectData) -> dict[str, Any]:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        runs = manager.list_runs()
        if 0 <= row < len(runs):
            return {**state, "run": runs[row]["run_id"], "sigs": {}}
        return state

    runs_table.select(on_select_row, view, view)
    selected.input(lambda state, run_id: {**state, "run": run_id, "sigs": {}}, [view, selected], view)

    live_outputs = [view, selected, progress, alerts, loss_plot, reward_plot, train_plot, hw_plot, log_box, runs_table,
                    checkpoint, run_config]
    timer.tick(lambda lang, state: _refresh(ctx, lang, state), [lang_state, view], live_outputs,
               show_progress="hidden")
    lang_state.change(lambda lang, state: _refresh(ctx, lang, {**state, "sigs": {}}), [lang_state, view],
                      live_outputs, show_progress="hidden")
    ctx.on_load.append((lambda lang, state: _refresh(ctx, lang, {**state, "sigs": {}}), [lang_state, view],
                        live_outputs))
    # datasets saved in the Dataset Explorer join the dataset choices
    ctx.on_load.append((lambda: gr.update(choices=dataset_choices(ctx)), [], [form.widgets["dataset"]]))
    # registered, cached and downloaded models join the model choices (typing any id or path still works)
    ctx.on_load.append((lambda: gr.update(choices=model_choices()), [], [form.widgets["model_name_or_path"]]))
    form.selected, form.open_in_chat = selected, open_in_chat
    return form


def model_choices() -> list[str]:
    on_disk = [m["id"] if m["source"] == "hf" else m["folder"] for m in list_models()
               if m["source"] in ("hf", "local", "modelscope")]
    return list(dict.fromkeys([*KNOWN_MODELS, *on_disk]))


def dataset_choices(ctx: AppContext) -> list[str]:
    return list(dict.fromkeys([*SAMPLE_DATASETS, *(d["spec"] for d in ctx.door.explorer.datasets())]))


FIT_FIELDS = ("model_name_or_path", "method", "finetuning_type", "quantization_bit", "max_seq_length",
              "per_device_train_batch_size", "gradient_checkpointing", "precision", "lora_r")


def fit_markdown(door: Door, config: TrainConfig, lang: str) -> str:
    """The estimator's verdict for the form: a warning with numbers, never a block."""

    method = {"full": "full", "lora": "lora"}.get(config.finetuning_type, f"qlora{config.quantization_bit}")
    setting = Setting(method, config.method, config.max_seq_length, config.per_device_train_batch_size,
                      config.gradient_checkpointing, config.precision, config.lora_r)
    try:
        r = door.estimate(config.model_name_or_path, setting)
    except ModelError:
        return t("fit_unknown", lang)
    icon = {"fits": "✅", "tight": "⚠️", "does not fit": "❌"}[r["verdict"]]
    text = t("fit_line", lang, icon=icon, total=r["total_gb"], device=r["device"], gb=r["device_gb"],
             verdict=t(f"fit_{r['verdict'].replace(' ', '_')}", lang), weights=r["weights_gb"],
             state=r["trainable_gb"], acts=r["activations_gb"])
    return text + (f"  \n💡 {r['suggestion']}" if r["suggestion"] else "")


def _quiet(fn: Any, *values: Any) -> Any:
    """Live preview while typing: a half-typed value keeps the last preview instead of raising."""
    try:
        return fn(*values)
    except gr.Error:
        return [gr.skip(), gr.skip()]


def _changed(state: dict[str, Any], key: str, sig: Any) -> bool:
    """True (and remembered) when what `key` shows differs from what this browser last drew."""
    sigs = state.setdefault("sigs", {})
    if sigs.get(key) == sig:
        return False
    sigs[key] = sig
    return True


def _refresh(ctx: AppContext, lang: str, state: dict[str, Any]) -> list[Any]:
    manager = ctx.door.manager
    runs = manager.list_runs()
    ids = [r["run_id"] for r in runs]
    run_id = state.get("run")
    if run_id not in ids:
        run_id = manager.current_run_id() or (ids[0] if ids else None)
    state = {**state, "run": run_id, "sigs": dict(state.get("sigs") or {})}
    skip = gr.skip()
    table = runs_frame(runs, lang) if _changed(state, "table", ([(r["run_id"], r["state"], r["step"]) for r in runs],
                                                                 lang)) else skip
    choices = gr.update(choices=ids, value=run_id) if _changed(state, "ids", (ids, run_id)) else skip
    hw = skip
    if time.time() - state.get("hw_at", 0) >= HARDWARE_EVERY_S or _changed(state, "hw_lang", lang):
        hw, state["hw_at"] = hardware_figure(ctx.monitor.snapshot(), lang), time.time()
    if run_id is None:
        blank = _changed(state, "charts", (None, lang))
        return [state, choices, t("no_run", lang), "", loss_figure([], lang) if blank else skip,
                gr.update(visible=False) if blank else skip, training_figure([], lang) if blank else skip, hw, "",
                table, skip, ""]
    run = manager.run(run_id)
    status = run.status()
    metrics = manager.metrics(run_id)
    charts = _changed(state, "charts", (run_id, len(metrics), lang))
    log_size = run.log_path.stat().st_size if run.log_path.exists() else 0
    log_text = run.log_tail(60) if _changed(state, "log", (run_id, log_size)) else skip
    checkpoints = [p.name for p in run.checkpoints()]
    points = gr.update(choices=checkpoints, value=checkpoints[-1] if checkpoints else None) \
        if _changed(state, "checkpoints", (run_id, checkpoints)) else skip
    config_text = run.config_path.read_text(encoding="utf-8") if _changed(state, "config", run_id) else skip
    if state.get("state") == (run_id, "running") and status.get("state") not in ACTIVE:
        if status.get("state") == "completed":
            gr.Info(t("done", lang, run_id=run_id, loss=status.get("final_loss")))
        elif status.get("state") == "failed":
            gr.Warning(t("failed", lang, run_id=run_id, error=status.get("error")))
    state["state"] = (run_id, status.get("state"))
    bar = progress_html(status, lang)
    notes = alerts_markdown(status, lang)
    report = run.path / "comparison.json"
    if status.get("state") == "completed" and report.is_file():
        summary = (read_json(report, {}) or {}).get("summary") or {}
        notes += f"\n\n📊 {t('comparison_line', lang)}: {summary_line(summary)}"
    return [state, choices, bar if _changed(state, "bar", bar) else skip,
            notes if _changed(state, "notes", notes) else skip,
            loss_figure(metrics, lang) if charts else skip, _reward_update(metrics, lang) if charts else skip,
            training_figure(metrics, lang) if charts else skip, hw, log_text, table, points, config_text]


def _reward_update(metrics: list[dict[str, Any]], lang: str) -> Any:
    figure = reward_figure(metrics, lang)
    return gr.update(value=figure, visible=True) if figure is not None else gr.update(visible=False)
