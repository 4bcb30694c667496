"""The Train tab: form, presets, run controls, runs table and the live view.

Handlers are module-level functions over typed state (`RunView`); the live view is train_live.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from engine.access.door import Door
from engine.config.presets import load_preset, preset_description, preset_paths
from engine.config.train_config import TrainConfig
from engine.config.yaml_io import load_yaml
from engine.errors import ConfigError, ModelError, RunError
from engine.hub.disk import list_models
from engine.inference.pool import POOL
from engine.sizing.fit import setting_for
from engine.text.message import render
from tabs import export_panel, train_compare, train_lineage, train_plan
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.train_form import KNOWN_MODELS, SAMPLE_DATASETS, TrainForm, command_preview
from tabs.train_live import LiveWidgets, RunView, refresh
from tabs.translate import Translator

# On a 2-core machine every redraw in the browser competes with training; both are tunable.
REFRESH_S = float(os.environ.get("TUNEDESK_REFRESH_S", "2"))
DEFAULT_PRESET = "cpu_demo_smollm2_lora"


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> TrainForm:
    presets = preset_paths()
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=480):
            # the preset's name gets a row of its own: the longest (cpu_demo_smollm2_lora) fits in both languages
            with gr.Row():
                preset = gr.Dropdown(choices=list(presets), value=DEFAULT_PRESET if DEFAULT_PRESET in presets else None,
                                     label=t("preset", tr.lang), elem_id="preset", scale=4, min_width=300)
                tr.label(preset, "preset")
                load_btn = tr.button("load_preset", elem_id="load-preset", scale=1, min_width=120)
            with gr.Row():
                upload = gr.UploadButton(t("upload_yaml", tr.lang), file_types=[".yaml", ".yml"], elem_id="upload-yaml",
                                         scale=1, min_width=160)
                tr.add(upload, lambda lang: {"label": t("upload_yaml", lang)})
                save_btn = tr.button("save_yaml", scale=1, min_width=160)
                saved = gr.File(visible=False, interactive=False, scale=2)
            preset_help = gr.Markdown(preset_description(presets[DEFAULT_PRESET], tr.lang)
                                      if DEFAULT_PRESET in presets else "", elem_id="preset-help")
            initial = load_preset(DEFAULT_PRESET) if DEFAULT_PRESET in presets else TrainConfig()
            loaded = gr.State(Loaded(DEFAULT_PRESET if DEFAULT_PRESET in presets else "", initial.to_dict()))
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
                    retry_btn = tr.button("retry_planned", visible=False, elem_id="retry-planned")
                fit_box = gr.Markdown(fit_markdown(ctx.door, initial, tr.lang), elem_id="fit-verdict")
                plan_widgets = train_plan.build_controls(tr)
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
            grad_plot = gr.Plot(elem_id="grad-plot", show_label=False, visible=False)
            hw_plot = gr.Plot(elem_id="hw-plot", show_label=False)
            log_box = tr.label(gr.Textbox(label=t("log", tr.lang), lines=12, max_lines=12, autoscroll=True,
                                          elem_id="log-box"), "log")
            search = tr.label(gr.Textbox(label=t("runs_search", tr.lang), elem_id="runs-search", max_lines=1),
                              "runs_search")
            runs_table = tr.label(gr.Dataframe(label=t("runs", tr.lang), interactive=False, elem_id="runs-table",
                                               wrap=True), "runs")
            with gr.Row(equal_height=True):
                label_name = tr.label(gr.Textbox(label=t("run_label_name", tr.lang), elem_id="run-name", max_lines=1,
                                                 scale=3), "run_label_name")
                label_tags = tr.label(gr.Textbox(label=t("run_label_tags", tr.lang), elem_id="run-tags", max_lines=1,
                                                 scale=3), "run_label_tags")
                label_btn = tr.button("run_label_save", elem_id="run-label-save", scale=1, min_width=140)
            train_compare.build(ctx, tr, lang_state)
            train_lineage.build(ctx, tr, lang_state, selected)
            export_panel.build(ctx, tr, lang_state, selected)
            with gr.Accordion(t("config_of_run", tr.lang), open=False) as run_cfg_acc:
                run_config = gr.Code(language="yaml", interactive=False)
            tr.label(run_cfg_acc, "config_of_run")
    view = gr.State(RunView())
    timer = gr.Timer(REFRESH_S)
    live = LiveWidgets(view, selected, progress, alerts, loss_plot, reward_plot, train_plot, grad_plot, hw_plot,
                       log_box, runs_table, checkpoint, run_config, retry_btn)
    form_outputs = [*form.inputs, yaml_view, cmd_view]
    train_plan.wire(ctx, plan_widgets, form, lang_state, [yaml_view, cmd_view])
    for event in (load_btn.click, preset.change):
        event(lambda name, lang: load_named_preset(form, name, lang), [preset, lang_state],
              [*form_outputs, preset_help, loaded])
    upload.upload(lambda path: load_uploaded(form, path), upload, [*form_outputs, preset_help, loaded])
    # the description follows the form: it describes the loaded preset until the form leaves it
    for widget in form.inputs:
        widget.change(lambda lang, was, *v: preview_of(form, lang, was, v), [lang_state, loaded, *form.inputs],
                      [yaml_view, cmd_view, preset_help], show_progress="hidden", queue=False)
    lang_state.change(lambda lang, was, *v: preview_of(form, lang, was, v)[2], [lang_state, loaded, *form.inputs],
                      preset_help, show_progress="hidden")
    lang_state.change(lambda lang, *v: fit_of(ctx, form, lang, v), [lang_state, *form.inputs], fit_box,
                      show_progress="hidden")
    for name in FIT_FIELDS:
        form.widgets[name].change(lambda lang, *v: fit_of(ctx, form, lang, v), [lang_state, *form.inputs], fit_box,
                                  show_progress="hidden")
    save_btn.click(lambda *v: save_form(ctx, form, v), form.inputs, saved)
    start_btn.click(lambda lang, v, *values: start_run(ctx, form, lang, v, values), [lang_state, view, *form.inputs],
                    [message, view])
    stop_btn.click(lambda lang, v: stop_run(ctx, lang, v), [lang_state, view], message)
    resume_btn.click(lambda lang, v, point: resume_run(ctx, lang, v, point), [lang_state, view, checkpoint],
                     [message, view])
    retry_btn.click(lambda lang, v: retry_planned(ctx, lang, v), [lang_state, view], [message, view])
    delete_btn.click(lambda v: gr.update(visible=bool(v.run)), view, confirm_btn)
    confirm_btn.click(lambda lang, v: delete_run(ctx, lang, v), [lang_state, view], [message, view, confirm_btn])

    def on_select_row(state: RunView, query: str, evt: gr.SelectData) -> RunView:  # SelectData: filled by its type
        return select_row(ctx, state, query, evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index)

    runs_table.select(on_select_row, [view, search], view)
    # the search box is read by every refresh, so a refresh or a second browser filters alike
    search.input(lambda lang, state, query: refresh(ctx, live, lang, state, query), [lang_state, view, search],
                 live.components(), show_progress="hidden")
    selected.change(lambda run_id: label_of(ctx, run_id), selected, [label_name, label_tags], show_progress="hidden")
    # the fields hold the label of the run in `selected` (filled when it changes): that run is the one labelled
    label_btn.click(lambda lang, run_id, name, tags: save_label(ctx, lang, run_id, name, tags),
                    [lang_state, selected, label_name, label_tags], message)
    selected.input(lambda state, run_id: state.showing(run_id), [view, selected], view)
    timer.tick(lambda lang, state, query: refresh(ctx, live, lang, state, query), [lang_state, view, search],
               live.components(), show_progress="hidden")
    lang_state.change(lambda lang, state, query: refresh(ctx, live, lang, state.redrawn(), query),
                      [lang_state, view, search], live.components(), show_progress="hidden")
    ctx.on_load.append((lambda lang, state: refresh(ctx, live, lang, state.redrawn()), [lang_state, view],
                        live.components()))
    # datasets saved in the Dataset Explorer join the dataset choices
    ctx.on_load.append((lambda: gr.update(choices=dataset_choices(ctx)), [], [form.widgets["dataset"]]))
    # registered, cached and downloaded models join the model choices (typing any id or path still works)
    ctx.on_load.append((lambda: gr.update(choices=model_choices()), [], [form.widgets["model_name_or_path"]]))
    form.selected, form.open_in_chat = selected, open_in_chat
    return form


# --- handlers: engine errors show in the page with the engine's message; nothing on the form is lost ----------
in_page = gradio_errors(in_page=True)


def _form_update(form: TrainForm, config: TrainConfig) -> list[Any]:
    yaml_text, cmd = command_preview(config)
    return [*form.values_of(config), yaml_text, cmd]


@dataclass
class Loaded:
    """The preset (or YAML file) last loaded into the form, as it was loaded."""

    name: str
    config: dict[str, Any]

    def describe(self, lang: str, config: TrainConfig) -> str:
        if config.to_dict() != self.config:
            return t("preset_changed", lang, name=self.name) if self.name else ""
        path = preset_paths().get(self.name)
        return preset_description(path, lang) if path else (f"`{self.name}`" if self.name else "")


@in_page
def load_named_preset(form: TrainForm, name: str, lang: str) -> list[Any]:
    if not name:
        raise ConfigError("pick a preset first")
    config = load_preset(name)
    return [*_form_update(form, config), preset_description(preset_paths()[name], lang),
            Loaded(name, config.to_dict())]


@in_page
def load_uploaded(form: TrainForm, path: str | None) -> list[Any]:
    if not path:
        return [gr.skip()] * (len(form.inputs) + 4)
    config = load_yaml(path)
    return [*_form_update(form, config), f"`{Path(path).name}`", Loaded(Path(path).name, config.to_dict())]


def preview_of(form: TrainForm, lang: str, loaded: Loaded, values: Sequence[Any]) -> list[Any]:
    """Live preview while typing (a half-typed value keeps the last preview instead of raising), and the
    description of what was loaded while the form still holds it."""
    try:
        config = form.to_config(values)
    except ConfigError:
        return [gr.skip(), gr.skip(), gr.skip()]
    return [*command_preview(config), loaded.describe(lang, config)]


def fit_of(ctx: AppContext, form: TrainForm, lang: str, values: Sequence[Any]) -> Any:
    try:
        return fit_markdown(ctx.door, form.to_config(values), lang)
    except ConfigError:
        return gr.skip()  # a half-typed value: keep the last verdict


@in_page
def save_form(ctx: AppContext, form: TrainForm, values: Sequence[Any]) -> Any:
    config = form.to_config(values)
    folder = ctx.door.manager.outputs / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{config.run_name or 'tunedesk'}-{time.strftime('%Y%m%d-%H%M%S')}.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    return gr.update(value=str(path), visible=True)


@in_page
def start_run(ctx: AppContext, form: TrainForm, lang: str, view: RunView, values: Sequence[Any]
              ) -> tuple[str, RunView]:
    manager = ctx.door.manager
    chat_loaded = bool(POOL.loaded)
    run_id = ctx.door.start(form.to_config(values))
    busy = manager.current_run_id() not in (None, run_id) or len(manager.queued()) > 1
    note = t("queued" if busy else "started", lang, run_id=run_id)
    if chat_loaded:  # the worker frees them before the run starts
        note += "  \n" + t("chat_unloaded", lang)
    return note, view.showing(run_id)


@in_page
def stop_run(ctx: AppContext, lang: str, view: RunView) -> str:
    run_id = view.run or ctx.door.manager.current_run_id()
    if not run_id:
        raise ConfigError("no run selected")
    result = ctx.door.manager.stop(run_id)
    return t("stopping", lang, run_id=run_id) if result == "stopping" else f"{run_id}: {result}"


@in_page
def resume_run(ctx: AppContext, lang: str, view: RunView, point: str | None) -> tuple[str, RunView]:
    if not view.run:
        raise ConfigError("select a run to resume in the runs table first")
    run_id = ctx.door.resume(view.run, point or "")
    return t("resumed", lang, run_id=run_id), view.showing(run_id)


@in_page
def retry_planned(ctx: AppContext, lang: str, view: RunView) -> tuple[str, RunView]:
    if not view.run:
        raise ConfigError("select the run that ran out of memory first")
    run_id = ctx.door.retry_planned(view.run)
    return t("retried", lang, run_id=run_id, failed=view.run), view.showing(run_id)


@in_page
def delete_run(ctx: AppContext, lang: str, view: RunView) -> tuple[str, RunView, Any]:
    if not view.run:
        raise ConfigError("no run selected")
    ctx.door.manager.delete(view.run)
    return t("deleted", lang, run_id=view.run), view.showing(None), gr.update(visible=False)


def label_of(ctx: AppContext, run_id: str | None) -> tuple[str, str]:
    try:
        label = ctx.door.manager.label_of(run_id) if run_id else {"name": "", "tags": []}
    except RunError:  # deleted meanwhile
        label = {"name": "", "tags": []}
    return label["name"], ", ".join(label["tags"])


@in_page
def save_label(ctx: AppContext, lang: str, run_id: str | None, name: str, tags: str) -> str:
    if not run_id:
        raise RunError("select a run in the runs table first")
    ctx.door.manager.label(run_id, name or "", tags or "")
    return t("run_label_saved", lang, run_id=run_id)


def select_row(ctx: AppContext, view: RunView, query: str, row: int) -> RunView:
    runs = ctx.door.manager.search(query)  # the rows as the table shows them
    return view.showing(runs[row]["run_id"]) if 0 <= row < len(runs) else view


def model_choices() -> list[str]:
    on_disk = [m["id"] if m["source"] == "hf" else m["folder"] for m in list_models()
               if m["source"] in ("hf", "local", "modelscope")]
    return list(dict.fromkeys([*KNOWN_MODELS, *on_disk]))


def dataset_choices(ctx: AppContext) -> list[str]:
    return list(dict.fromkeys([*SAMPLE_DATASETS, *(d["spec"] for d in ctx.door.explorer.datasets())]))


FIT_FIELDS = ("model_name_or_path", "method", "finetuning_type", "quantization_bit", "max_seq_length",
              "per_device_train_batch_size", "gradient_checkpointing", "precision", "lora_r", "use_dora",
              "lora_modules_to_save", "freeze_trainable_layers", "freeze_trainable_modules", "optim")


def fit_markdown(door: Door, config: TrainConfig, lang: str) -> str:
    """The estimator's verdict for the form: a warning with numbers, never a block."""

    try:
        r = door.estimate(config.model_name_or_path, setting_for(config))
    except ModelError:
        return t("fit_unknown", lang)
    icon = {"fits": "✅", "tight": "⚠️", "does not fit": "❌"}[r["verdict"]]
    device = t("fit_ram", lang) if r.get("device_kind") == "cpu" else r["device"]
    text = t("fit_line", lang, icon=icon, total=r["total_gb"], device=device, gb=r["device_gb"],
             verdict=t(f"fit_{r['verdict'].replace(' ', '_')}", lang), weights=r["weights_gb"],
             state=r["trainable_gb"], acts=r["activations_gb"])
    return text + (f"  \n💡 {render(r['suggestion_text'] or r['suggestion'], lang)}" if r["suggestion"] else "")


