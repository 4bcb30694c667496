"""The Train form, generated from TrainConfig's field metadata (labels, help, choices, ranges)."""

from __future__ import annotations

import shlex
from dataclasses import fields
from typing import Any, get_type_hints

import gradio as gr

from engine.config.field_info import DEFAULT_MODEL, GROUPS
from engine.config.train_config import TrainConfig, field_info, field_names
from engine.training.launch import other_machine_commands
from tabs.i18n import t
from tabs.translate import Translator

KNOWN_MODELS = [
    DEFAULT_MODEL,
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen3-0.6B",
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Meta-Llama-3-8B-Instruct",
    "THUDM/glm-4-9b-chat-hf",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
]
SAMPLE_DATASETS = ["samples/identity.json", "samples:dpo_sample", "samples:pretrain_sample"]
OPEN_GROUPS = ("model", "method", "train")
METHOD_GROUPS = ("preference", "rl")  # shown open whenever their method is chosen


def _lang_index(lang: str) -> int:
    return 1 if lang == "zh" else 0


def applies(name: str, method: str, finetuning_type: str) -> bool:
    return field_info(name).applies(method, finetuning_type)


def _widget(name: str, typ: Any, lang: str, value: Any, visible: bool) -> Any:
    info = field_info(name)
    i = _lang_index(lang)
    common = {"label": info.label[i], "info": info.help[i], "value": value, "elem_id": f"field-{name}",
              "visible": visible}
    if name == "model_name_or_path":
        return gr.Dropdown(choices=KNOWN_MODELS, allow_custom_value=True, **common)
    if name == "dataset":
        return gr.Dropdown(choices=SAMPLE_DATASETS, allow_custom_value=True, **common)
    if typ is bool:
        return gr.Checkbox(**common)
    if info.choices is not None:
        return gr.Dropdown(choices=list(info.choices), **common)
    if typ in (int, float):
        return gr.Number(minimum=info.minimum, maximum=info.maximum, precision=0 if typ is int else None, **common)
    return gr.Textbox(**common)


class TrainForm:
    """The field widgets in TrainConfig order; values travel as one list in that same order."""

    def __init__(self, tr: Translator, initial: TrainConfig):
        self.tr = tr
        self.names = field_names()
        self.widgets: dict[str, Any] = {}
        self.selected: Any = None  # the live view's run picker and its "Open in Compare Chat" button
        self.open_in_chat: Any = None
        self.groups: dict[str, Any] = {}
        hints = get_type_hints(TrainConfig)
        for group in GROUPS:
            names = [f.name for f in fields(TrainConfig) if field_info(f.name).group == group]
            acc = gr.Accordion(t(f"group_{group}", tr.lang), open=group in OPEN_GROUPS or group in METHOD_GROUPS,
                               visible=any(initial.applies(n) for n in names), elem_id=f"group-{group}")
            self.groups[group] = acc
            tr.label(acc, f"group_{group}")
            with acc:
                for start in range(0, len(names), 3):
                    with gr.Row():
                        for name in names[start:start + 3]:
                            widget = _widget(name, hints[name], tr.lang, getattr(initial, name),
                                             initial.applies(name))
                            self.widgets[name] = widget
                            info = field_info(name)
                            tr.add(widget, lambda lang, info=info: {"label": info.label[_lang_index(lang)],
                                                                    "info": info.help[_lang_index(lang)]})
        # only the fields that apply to the chosen method and fine-tuning type are shown (hidden ones keep
        # their values)
        specific = [n for n in self.names if field_info(n).methods is not None or field_info(n).types is not None]
        groups = list(GROUPS)

        def shown(method: str, finetuning_type: str) -> list[Any]:
            return [*(gr.update(visible=applies(n, method, finetuning_type)) for n in specific),
                    *(gr.update(visible=any(applies(f.name, method, finetuning_type) for f in fields(TrainConfig)
                                            if field_info(f.name).group == g)) for g in groups)]

        chooser = [self.widgets["method"], self.widgets["finetuning_type"]]
        for widget in chooser:
            widget.change(shown, chooser, [*(self.widgets[n] for n in specific), *(self.groups[g] for g in groups)],
                          show_progress="hidden", queue=False)
        self.trust_warning = tr.text(gr.Markdown(t("trust_warning", tr.lang), visible=False), "trust_warning")
        self.widgets["trust_remote_code"].change(lambda on: gr.update(visible=bool(on)),
                                                 self.widgets["trust_remote_code"], self.trust_warning,
                                                 show_progress="hidden")

    @property
    def inputs(self) -> list[Any]:
        return [self.widgets[n] for n in self.names]

    def to_config(self, values: list[Any] | tuple[Any, ...]) -> TrainConfig:
        return TrainConfig.from_dict(dict(zip(self.names, values, strict=True)))

    def values_of(self, config: TrainConfig) -> list[Any]:
        return [getattr(config, n) for n in self.names]


def command_preview(config: TrainConfig, yaml_name: str = "my_config.yaml") -> tuple[str, str]:
    """The YAML of a config and the headless command that trains it."""
    command = f"# save the YAML above as {yaml_name}, then:\npython -m engine train {shlex.quote(yaml_name)}\n"
    if config.nnodes > 1:
        command += (f"# this machine is node 0 and launches {config.nproc_per_node} processes; then, on each other "
                    "machine, with the run's config.yaml copied there:\n")
        command += "\n".join(other_machine_commands(config, config.master_port)) + "\n"
    elif config.nproc_per_node > 1:
        command += f"# runs as {config.nproc_per_node} processes through torchrun (DDP)\n"
    return config.to_yaml(), command
