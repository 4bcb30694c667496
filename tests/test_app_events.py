"""How the page's events are wired, read from the built app: what a browser cannot show reliably."""

from __future__ import annotations

import gradio as gr

from tabs import build_app
from tabs.context import AppContext


def test_a_jobs_start_and_its_poll_never_overlap(tmp_path):
    """A poll that began before a start and ended after it would put the previous job back in the page's
    state and stop the timer: the new job would never be shown. Every event that sets a polled job's state
    and timer runs in the tick's concurrency group, one at a time."""
    demo = build_app(AppContext.create(str(tmp_path / "outputs"), lang="en", confine=False, allow_dirs=[],
                                       allow_code=False))
    blocks = demo.blocks
    ticks = [fn for fn in demo.fns.values()
             if any(isinstance(blocks.get(target), gr.Timer) and event == "tick" for target, event in fn.targets)]
    checked = 0
    for tick in ticks:
        timer = next(blocks[t] for t, _ in tick.targets if isinstance(blocks.get(t), gr.Timer))
        if timer not in tick.outputs:
            continue  # an always-on refresh: nothing starts or stops it
        # page loads re-attach before anything can be clicked; every other event that sets the timer counts
        starts = [fn for fn in demo.fns.values() if fn is not tick and timer in fn.outputs
                  and not any(event == "load" for _, event in fn.targets)]
        assert starts, f"{tick.name}: nothing starts the job this timer polls"
        for fn in [tick, *starts]:
            assert fn.concurrency_id == tick.concurrency_id and fn.concurrency_limit == 1, \
                f"{fn.name} ({fn.targets}) may run beside the poll of its job"
        checked += 1
    # the Dataset Explorer's inspection, the fit plan, an export, Compare Chat's batch report, a download
    assert checked >= 5
