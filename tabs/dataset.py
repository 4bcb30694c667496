"""The Dataset Explorer tab: load any dataset, see its format, problems and token lengths, preview each
sample exactly as the trainer sees it, then clean, split and save it for the Train tab.

Inspection runs as an engine job; a gr.Timer polls it, so the page stays usable, shows progress and
can cancel. All work is done by `engine.data.explorer`; this file only lays out widgets and calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import gradio as gr

from engine.config.field_info import DEFAULT_MODEL
from engine.config.train_config import TrainConfig, field_info
from engine.data.clean import CleanOptions
from engine.data.explorer import MAPPING_KEYS, DatasetChoice, histogram_of
from engine.data.formats import FORMATS
from engine.data.sources import INFO_FILE, read_info
from engine.data.stats import DatasetStats
from engine.errors import DataError
from engine.locations import project_path
from tabs.context import AppContext
from tabs.dataset_view import bad_rows_frame, histogram_figure, preview_html, summary_markdown
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.train_form import KNOWN_MODELS, SAMPLE_DATASETS
from tabs.translate import Translator
from tabs.widgets import PRIVATE, WidgetGroup, job_events

POLL_S = 0.7


@dataclass
class DatasetTab:
    """What other tabs wire to: the chosen dataset spec and the button that sends it to Train."""

    use_in_train: gr.Button
    chosen: gr.State  # the spec of the dataset last saved (cleaned, or a saved mapping)
    source: gr.Dropdown
    entry: gr.Dropdown


def _progress_html(fraction: float, message: str, state: str) -> str:
    return bar_html("data-progress", fraction, message, state)


def with_hub_options(source: str, subset: str, split: str) -> str:
    """A hub dataset id gets the subset and split fields as `?subset=…&split=…`; paths are left alone."""
    hub_id = source.startswith(("hf:", "ms:", "modelscope:")) or (
        source.count("/") == 1 and not project_path(source).exists())
    if "?" in source or not hub_id:
        return source
    options = {k: v.strip() for k, v in (("subset", subset or ""), ("split", split or "")) if v and v.strip()}
    if options.get("split") == "train":
        options.pop("split")  # the default
    return source + ("?" + urlencode(options) if options else "")


def _dedupe_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"data_dedupe_{k}", lang), k) for k in ("none", "exact", "normalized")]


def _field_widget(tr: Translator, name: str, kind: Any, **kwargs: Any) -> Any:
    """A widget for one of the Train form's fields, labelled as the form labels it (its help is the form's)."""
    info = field_info(name)
    widget = kind(value=getattr(TrainConfig, name), label=info.label[int(tr.lang == "zh")], scale=1, **kwargs)
    return tr.add(widget, lambda lang: {"label": info.label[int(lang == "zh")]})


def _entries(source: str) -> list[str]:
    path = project_path(source.strip()) if source and source.strip() else None
    if path is not None and path.is_dir() and (path / INFO_FILE).is_file():
        try:
            return sorted(read_info(path))
        except DataError:
            return []
    return []


def build(ctx: AppContext, tr: Translator, lang_state: gr.State) -> DatasetTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            upload = tr.label(gr.File(label=t("data_upload", tr.lang), file_count="multiple", height=110,
                                      file_types=[".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt"],
                                      elem_id="data-upload"), "data_upload")
            with gr.Row():
                source = tr.label(gr.Dropdown(choices=SAMPLE_DATASETS, value=None, allow_custom_value=True, scale=3,
                                              label=t("data_source", tr.lang), elem_id="data-source"), "data_source")
                entry = tr.label(gr.Dropdown(choices=[], label=t("data_entry", tr.lang), allow_custom_value=True,
                                             scale=1, elem_id="data-entry"), "data_entry")
            with gr.Row():
                hub_subset = tr.label(gr.Textbox(label=t("data_hub_subset", tr.lang), scale=1), "data_hub_subset")
                hub_split = tr.label(gr.Textbox("train", label=t("data_hub_split", tr.lang), scale=1),
                                     "data_hub_split")
                mix = _field_widget(tr, "mix", gr.Textbox, elem_id="data-mix", placeholder="0.7, 0.3")
                mix_strategy = _field_widget(tr, "mix_strategy", gr.Dropdown, elem_id="data-mix-strategy",
                                             choices=list(field_info("mix_strategy").choices or ()))
        with gr.Column(scale=2):
            model = tr.label(gr.Dropdown(choices=KNOWN_MODELS, value=DEFAULT_MODEL, allow_custom_value=True,
                                         label=t("data_model", tr.lang), elem_id="data-model"), "data_model")
            with gr.Row():
                max_len = tr.label(gr.Number(1024, label=t("data_max_len", tr.lang), precision=0, minimum=16,
                                             elem_id="data-max-len"), "data_max_len")
                fmt = tr.label(gr.Dropdown(choices=["auto", *FORMATS], value="auto", label=t("data_format", tr.lang),
                                           elem_id="data-format"), "data_format")
                on_prompt = tr.label(gr.Checkbox(False, label=t("data_train_on_prompt", tr.lang)),
                                     "data_train_on_prompt")
                last_turn = tr.label(gr.Checkbox(False, label=t("data_mask_history", tr.lang),
                                                 elem_id="data-mask-history"), "data_mask_history")
            with gr.Row():
                inspect_btn = tr.button("data_inspect", variant="primary", elem_id="data-inspect")
                cancel_btn = tr.button("data_cancel", variant="secondary", elem_id="data-cancel")
    progress = gr.HTML(elem_id="data-progress-box")
    message = gr.Markdown(t("data_nothing", tr.lang), elem_id="data-message")
    with gr.Row(equal_height=False):
        summary = gr.Markdown(elem_id="data-summary")
        histogram = gr.Plot(elem_id="data-histogram", show_label=False)
    with gr.Accordion(t("data_mapping", tr.lang), open=False) as mapping_acc:
        columns = {}
        for start in range(0, len(MAPPING_KEYS), 5):
            with gr.Row():
                for key in MAPPING_KEYS[start:start + 5]:
                    columns[key] = gr.Dropdown(choices=[""], value="", label=key, allow_custom_value=True,
                                               elem_id=f"map-{key}")
        with gr.Row():
            apply_btn = tr.button("data_apply_mapping", elem_id="data-apply-mapping")
            mapping_name = tr.label(gr.Textbox(label=t("data_mapping_name", tr.lang), elem_id="data-mapping-name"),
                                    "data_mapping_name")
            save_mapping_btn = tr.button("data_save_mapping", elem_id="data-save-mapping")
    tr.label(mapping_acc, "data_mapping")
    with gr.Accordion(t("data_bad_rows", tr.lang), open=False) as bad_acc:
        bad_table = gr.Dataframe(interactive=False, wrap=True, elem_id="data-bad-rows", max_height=320)
    tr.label(bad_acc, "data_bad_rows")
    with gr.Accordion(t("data_preview", tr.lang), open=True) as preview_acc:
        with gr.Row():
            prev_btn = tr.button("data_prev", elem_id="data-prev", scale=0)
            page = tr.label(gr.Number(1, label=t("data_page", tr.lang), precision=0, minimum=1, elem_id="data-page",
                                      scale=1), "data_page")
            page_size = tr.label(gr.Dropdown(choices=[1, 3, 5, 10, 20], value=3, label=t("data_page_size", tr.lang),
                                             scale=1), "data_page_size")
            next_btn = tr.button("data_next", elem_id="data-next", scale=0)
            show_raw = tr.label(gr.Checkbox(False, label=t("data_show_raw", tr.lang), elem_id="data-show-raw"),
                                "data_show_raw")
        preview = gr.HTML(elem_id="data-preview")
    tr.label(preview_acc, "data_preview")
    with gr.Accordion(t("data_clean", tr.lang), open=True) as clean_acc:
        with gr.Row():
            dedupe = gr.Radio(_dedupe_choices(tr.lang), value="exact", label=t("data_dedupe", tr.lang))
            tr.add(dedupe, lambda lang: {"label": t("data_dedupe", lang), "choices": _dedupe_choices(lang)})
            drop_bad = tr.label(gr.Checkbox(True, label=t("data_drop_bad", tr.lang)), "data_drop_bad")
            shuffle = tr.label(gr.Checkbox(True, label=t("data_shuffle", tr.lang)), "data_shuffle")
            seed = tr.label(gr.Number(42, label=t("data_seed", tr.lang), precision=0), "data_seed")
        with gr.Row():
            min_tokens = tr.label(gr.Number(0, label=t("data_min_tokens", tr.lang), precision=0, minimum=0),
                                  "data_min_tokens")
            max_tokens = tr.label(gr.Number(0, label=t("data_max_tokens", tr.lang), precision=0, minimum=0),
                                  "data_max_tokens")
            valid_size = tr.label(gr.Number(0.1, label=t("data_valid_size", tr.lang), minimum=0,
                                            elem_id="data-valid-size"), "data_valid_size")
            test_size = tr.label(gr.Number(0, label=t("data_test_size", tr.lang), minimum=0), "data_test_size")
        with gr.Row():
            save_name = tr.label(gr.Textbox(label=t("data_name", tr.lang), elem_id="data-save-name"), "data_name")
            overwrite = tr.label(gr.Checkbox(False, label=t("data_overwrite", tr.lang)), "data_overwrite")
            save_btn = tr.button("data_save", variant="primary", elem_id="data-save")
            use_btn = tr.button("data_use_in_train", elem_id="data-use")
    tr.label(clean_acc, "data_clean")
    job = gr.State(InspectJob())
    chosen = gr.State("")
    timer = gr.Timer(POLL_S, active=False)
    pick = ChoiceWidgets(source, entry, hub_subset, hub_split, model, max_len, fmt, on_prompt, last_turn, mix,
                         mix_strategy, columns)
    clean = CleanWidgets(save_name, dedupe, drop_bad, min_tokens, max_tokens, shuffle, seed, valid_size, test_size,
                         overwrite)

    upload.upload(lambda files: import_uploads(ctx, files), upload, [source, upload], **PRIVATE)
    source.change(lambda s: gr.update(choices=_entries(s), value=None), source, entry, **PRIVATE)
    for button in (inspect_btn, apply_btn):
        button.click(lambda lang, *v: start_inspect(ctx, pick, lang, v), [lang_state, *pick.components()],
                     [job, timer, progress, message], **job_events("inspect"))
    cancel_btn.click(lambda state: ctx.door.explorer.jobs.cancel(state.job_id) if state.job_id else None, job, None,
                     **PRIVATE)
    tick_outputs = [job, timer, progress, message, summary, histogram, bad_table, preview,
                    *pick.columns.values()]
    timer.tick(lambda state, lang, raw, size: inspect_tick(ctx, state, lang, raw, size),
               [job, lang_state, show_raw, page_size], tick_outputs, **job_events("inspect"))
    page_inputs = [page, page_size, lang_state, show_raw, *pick.components()]
    for delta, event in ((-1, prev_btn.click), (1, next_btn.click), (0, page.submit), (0, show_raw.change),
                         (0, page_size.change)):
        event(lambda number, size, lang, raw, *v, delta=delta: turn_page(ctx, pick, delta, number, size, lang, raw, v),
              page_inputs, [page, preview], **PRIVATE)
    save_mapping_btn.click(lambda name, lang, *v: save_mapping(ctx, pick, name, lang, v),
                           [mapping_name, lang_state, *pick.components()], [message, chosen], **PRIVATE)
    save_btn.click(lambda lang, *v: save_cleaned(ctx, pick, clean, lang, v),
                   [lang_state, *clean.components(), *pick.components()], [message, chosen], **PRIVATE)
    # a refreshed page shows the last inspection's job again (its progress, or its result)
    ctx.on_load.append((lambda state: reattach(ctx, state), [job], [job, timer]))
    return DatasetTab(use_btn, chosen, source, entry)


@dataclass
class ChoiceWidgets(WidgetGroup):
    """What picks the data and how it is read: a DatasetChoice."""

    source: gr.Dropdown
    entry: gr.Dropdown
    hub_subset: gr.Textbox
    hub_split: gr.Textbox
    model: gr.Dropdown
    max_len: gr.Number
    format: gr.Dropdown
    train_on_prompt: gr.Checkbox
    mask_history: gr.Checkbox
    mix: gr.Textbox
    mix_strategy: gr.Dropdown
    columns: dict[str, gr.Dropdown]

    def choice(self, values: Sequence[Any]) -> DatasetChoice:
        v = self.read(values)
        src = v["source"] or ""
        if not src:
            raise DataError("no dataset: upload a file or type a path first")
        if v["entry"] and not src.endswith(f":{v['entry']}"):
            src = f"{src}:{v['entry']}"
        return DatasetChoice(with_hub_options(src, v["hub_subset"], v["hub_split"]), v["format"] or "auto",
                             {k: c or "" for k, c in v["columns"].items()}, v["model"] or DEFAULT_MODEL,
                             int(v["max_len"] or 1024), bool(v["train_on_prompt"]), bool(v["mask_history"]),
                             v["mix"] or "", v["mix_strategy"] or "concat")


@dataclass
class CleanWidgets(WidgetGroup):
    """Named as CleanOptions' fields."""

    name: gr.Textbox
    dedupe: gr.Radio
    drop_bad: gr.Checkbox
    min_tokens: gr.Number
    max_tokens: gr.Number
    shuffle: gr.Checkbox
    seed: gr.Number
    valid_size: gr.Number
    test_size: gr.Number
    overwrite: gr.Checkbox

    def options(self, values: Sequence[Any]) -> CleanOptions:
        v = self.read(values)
        return CleanOptions(v["name"] or "", v["dedupe"], bool(v["drop_bad"]), int(v["min_tokens"] or 0),
                            int(v["max_tokens"] or 0), bool(v["shuffle"]), int(v["seed"] or 0),
                            float(v["valid_size"] or 0), float(v["test_size"] or 0), bool(v["overwrite"]))


@dataclass
class InspectJob:
    """The inspection this browser follows: its job id while it runs, and the choice it inspects."""

    job_id: str | None = None
    choice: dict[str, Any] | None = None


in_page = gradio_errors(in_page=True)


@in_page
def import_uploads(ctx: AppContext, files: list[str] | None) -> list[Any]:
    if not files:
        return [gr.skip(), gr.skip()]
    # the drop zone is emptied again: a later drop is a new dataset, not more files for this one
    return [gr.update(value=ctx.door.explorer.import_uploads([str(f) for f in files])), None]


@in_page
def start_inspect(ctx: AppContext, pick: ChoiceWidgets, lang: str, values: Sequence[Any]) -> list[Any]:
    choice = pick.choice(values)
    job_id = ctx.door.explorer.start_inspect(choice)
    return [InspectJob(job_id, vars(choice)), gr.Timer(active=True),
            _progress_html(0, t("data_working", lang, message="…"), "running"), ""]


def inspect_tick(ctx: AppContext, state: InspectJob, lang: str, raw: bool, size: int) -> list[Any]:
    skip = gr.skip()
    mapped_skip = [skip] * len(MAPPING_KEYS)
    if not state.job_id:
        return [state, gr.Timer(active=False), skip, skip, skip, skip, skip, skip, *mapped_skip]
    jobs = ctx.door.explorer.jobs
    status = jobs.status(state.job_id, lang)
    if status["state"] == "running":
        bar = _progress_html(status["progress"], t("data_working", lang, message=status["message"] or "…"), "running")
        return [state, skip, bar, skip, skip, skip, skip, skip, *mapped_skip]
    if status["state"] != "done":
        text = t("data_cancelled", lang) if status["state"] == "cancelled" else f"❌ **{status['error']}**"
        # the last dataset's figures are not left beside the failure of another one
        return [InspectJob(None, state.choice), gr.Timer(active=False), _progress_html(1, "", status["state"]), text,
                "", None, bad_rows_frame(None, lang), "", *mapped_skip]
    stats = jobs.get(state.job_id).result
    choice = DatasetChoice(**(state.choice or {}))
    found = [""] + stats["columns"]
    mapped = [gr.update(choices=found, value=stats["mapping"].get(k, "")) for k in MAPPING_KEYS]
    return [InspectJob(None, state.choice), gr.Timer(active=False), _progress_html(1, "", "done"), "",
            summary_markdown(stats, choice.model, lang), histogram_figure(_hist(stats), lang),
            bad_rows_frame(stats, lang), _preview(ctx, choice, 1, size, lang, raw), *mapped]


def _preview(ctx: AppContext, choice: DatasetChoice, number: int, size: int, lang: str, raw: bool) -> str:
    return preview_html(ctx.door.explorer.preview(choice, int(number or 1), int(size or 3)), lang, raw)


@in_page
def turn_page(ctx: AppContext, pick: ChoiceWidgets, delta: int, number: Any, size: int, lang: str, raw: bool,
              values: Sequence[Any]) -> list[Any]:
    result = ctx.door.explorer.preview(pick.choice(values), max(1, int(number or 1) + delta), int(size or 3))
    return [result["page"], preview_html(result, lang, raw)]


@in_page
def save_mapping(ctx: AppContext, pick: ChoiceWidgets, name: str, lang: str, values: Sequence[Any]
                 ) -> tuple[str, str]:
    spec = ctx.door.explorer.save_mapping(pick.choice(values), name or "")
    return t("data_mapping_saved", lang, spec=spec), spec


@in_page
def save_cleaned(ctx: AppContext, pick: ChoiceWidgets, clean: CleanWidgets, lang: str, values: Sequence[Any]
                 ) -> tuple[str, str]:
    count = len(clean)
    result = ctx.door.explorer.clean(pick.choice(values[count:]), clean.options(values[:count]))
    return t("data_saved", lang, path=result.folder, train=result.train, valid=result.valid, test=result.test,
             bad=result.bad, dups=result.duplicates, filtered=result.filtered), result.folder


def reattach(ctx: AppContext, state: InspectJob) -> list[Any]:
    last = ctx.door.explorer.jobs.latest("inspect")
    if last is None or state.job_id:
        return [state, gr.skip()]
    return [InspectJob(last.job_id, last.meta), gr.Timer(active=True)]


def _hist(stats: dict[str, Any]) -> dict[str, Any] | None:
    if not stats.get("token_rows"):
        return None
    fields = DatasetStats.__dataclass_fields__
    return histogram_of(DatasetStats(**{k: v for k, v in stats.items() if k in fields}))

