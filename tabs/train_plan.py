"""The Train tab's "Fit to this machine": a goal, a button that plans in the background and fills the form
(each changed field marked), the plan with its reasons, and one Undo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from engine.planning.fit_plan import FitRequest
from engine.sizing.planner import GOALS, PlanGoal
from engine.text.message import render
from tabs.context import AppContext
from tabs.errors import gradio_errors
from tabs.i18n import t
from tabs.progress import bar_html
from tabs.train_form import TrainForm, command_preview
from tabs.translate import Translator
from tabs.widgets import PRIVATE, job_events

PLANNED = "td-planned"  # the CSS class of a field the plan changed


@dataclass
class PlanState:
    job_id: str = ""  # the plan being made
    undo: list[Any] = field(default_factory=list)  # the form's values before the plan filled it
    shown: str = ""  # the job whose plan is shown (drawn again in the other language on a switch)


@dataclass
class PlanWidgets:
    goal: Any
    button: Any
    undo: Any
    bar: Any
    text: Any


def build_controls(tr: Translator) -> PlanWidgets:
    """The controls, placed beside the memory verdict; `wire` connects them once the form exists."""
    with gr.Row(equal_height=True):
        goal = tr.add(gr.Dropdown(choices=goal_choices(tr.lang), value="fastest", label=t("fit_goal", tr.lang),
                                  elem_id="fit-goal", scale=2, min_width=200),
                      lambda lang: {"label": t("fit_goal", lang), "choices": goal_choices(lang)})
        button = tr.button("fit_button", elem_id="fit-plan", scale=1, min_width=170)
        undo = tr.button("fit_undo", elem_id="fit-undo", visible=False, scale=1, min_width=120)
    bar = gr.HTML(elem_id="fit-progress")
    text = gr.Markdown(elem_id="fit-plan-text")
    return PlanWidgets(goal, button, undo, bar, text)


def goal_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"fit_goal_{g}", lang), g) for g in GOALS]


def wire(ctx: AppContext, w: PlanWidgets, form: TrainForm, lang_state: Any, previews: list[Any]) -> None:
    state = gr.State(PlanState())
    timer = gr.Timer(1.0, active=False)
    filled = [*form.inputs, *previews]
    w.button.click(lambda lang, s, goal, *v: start_plan(ctx, form, lang, s, goal, v),
                   [lang_state, state, w.goal, *form.inputs], [state, timer, w.bar, w.text], **job_events("fit_plan"))
    timer.tick(lambda lang, s, *v: plan_tick(ctx, form, lang, s, v), [lang_state, state, *form.inputs],
               [state, timer, w.bar, w.text, w.undo, *filled], **job_events("fit_plan"))
    w.undo.click(lambda s: undo_plan(form, s), state, [state, w.undo, w.text, *filled], **PRIVATE)
    lang_state.change(lambda lang, s: shown_plan(ctx, lang, s), [lang_state, state], [w.bar, w.text], **PRIVATE)


@gradio_errors(in_page=True)
def shown_plan(ctx: AppContext, lang: str, state: PlanState) -> list[Any]:
    if not state.shown:
        return [gr.skip(), gr.skip()]
    job = ctx.door.planner.jobs.get(state.shown)
    if job.state != "done":
        return [gr.skip(), gr.skip()]
    return [_done_bar(job.result, lang), plan_markdown(job.result, lang)]


def _done_bar(plan: Any, lang: str) -> str:
    return bar_html("fit-bar", 1.0, t("fit_done", lang, count=len(plan.settled.changes)), "done")


@gradio_errors(in_page=True)
def start_plan(ctx: AppContext, form: TrainForm, lang: str, state: PlanState, goal: str, values: Sequence[Any]
               ) -> list[Any]:
    config = form.to_config(values)
    job_id = ctx.door.start_fit_plan(FitRequest(config, PlanGoal(goal or "fastest")))
    return [PlanState(job_id, state.undo, state.shown), gr.Timer(active=True),
            bar_html("fit-bar", 0.0, "…", "running"), ""]


@gradio_errors(in_page=True)
def plan_tick(ctx: AppContext, form: TrainForm, lang: str, state: PlanState, values: Sequence[Any]) -> list[Any]:
    keep = [gr.skip()] * (len(form.inputs) + 2)
    if not state.job_id:
        return [state, gr.Timer(active=False), gr.skip(), gr.skip(), gr.skip(), *keep]
    job = ctx.door.planner.jobs.get(state.job_id)
    if job.state == "running":
        return [state, gr.Timer(active=True), bar_html("fit-bar", job.progress, job.message, "running"), gr.skip(),
                gr.skip(), *keep]
    done = PlanState("", state.undo, state.job_id)
    if job.state != "done":
        text = job.error_text(lang) or job.state
        return [done, gr.Timer(active=False), bar_html("fit-bar", job.progress, text, job.state), f"❌ {text}",
                gr.skip(), *keep]
    plan = job.result
    changed = {c["field"] for c in plan.settled.changes}
    markdown = plan_markdown(plan, lang)
    bar = _done_bar(plan, lang)
    if not plan.settled.fits:
        return [done, gr.Timer(active=False), bar, markdown, gr.skip(), *keep]
    before = list(values)
    fields = [gr.update(value=getattr(plan.config, n), elem_classes=[PLANNED] if n in changed else [])
              for n in form.names]
    return [PlanState("", before, state.job_id), gr.Timer(active=False), bar, markdown, gr.update(visible=True),
            *fields,
            *command_preview(plan.config)]


@gradio_errors(in_page=True)
def undo_plan(form: TrainForm, state: PlanState) -> list[Any]:
    if not state.undo:
        return [state, gr.update(visible=False), gr.skip(), *([gr.skip()] * (len(form.inputs) + 2))]
    config = form.to_config(state.undo)
    fields = [gr.update(value=v, elem_classes=[]) for v in state.undo]
    return [PlanState(), gr.update(visible=False), "", *fields, *command_preview(config)]


def plan_markdown(plan: Any, lang: str) -> str:
    lines = []
    for change in plan.settled.changes:
        lines.append(f"- **{change['field']}**: `{change['before']}` → `{change['after']}`")
    head = t("fit_plan_head", lang) if plan.settled.fits else t("fit_plan_none", lang)
    reasons = [f"- {render(r, lang)}" for r in plan.reasons()]
    return "\n".join([f"**{head}**", *lines, "", f"*{t('fit_why', lang)}*", *reasons])
