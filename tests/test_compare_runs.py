"""Runs side by side: each run's curves as its metrics.jsonl holds them, the best eval loss at its step, the
scores of a real comparison report, exactly the config fields that differ, the overlay figure's data, and
the same from the CLI."""

from __future__ import annotations

import json

import pytest

from engine.errors import RunError
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def two_runs(tiny_model, tmp_path_factory):
    """Two short runs with a validation split, differing in learning rate and steps; the second has a
    comparison report (base vs the run on its validation rows)."""
    from engine.evaluation.batch import BatchComparer, CompareRequest
    from engine.runs.queue import RunManager

    folder = tmp_path_factory.mktemp("compare-runs")
    rows = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(16)]
    (folder / "chat.json").write_text(json.dumps(rows))
    manager = RunManager(folder / "outputs")
    common = {"val_size": 4, "eval_steps": 2, "save_steps": 100}
    ids = [manager.submit(tiny_config(tiny_model, folder / "chat.json", folder / "o", max_steps=4, **common)),
           manager.submit(tiny_config(tiny_model, folder / "chat.json", folder / "o", max_steps=6,
                                      learning_rate=1e-2, **common))]
    for run_id in ids:
        assert manager.wait(run_id, timeout=300) == "completed", manager.run(run_id).log_tail()
    BatchComparer(manager).run(CompareRequest(f"base:{tiny_model}", f"run:{ids[1]}", general=False,
                                              max_new_tokens=4, limit=4))
    return manager, ids


def test_each_run_keeps_its_own_curves_best_eval_and_scores(two_runs):
    manager, ids = two_runs
    result = manager.compare(ids)
    assert [r["run_id"] for r in result["runs"]] == ids
    for summary, run_id in zip(result["runs"], ids, strict=True):
        metrics = manager.run(run_id).metrics()
        train = [m for m in metrics if m.get("type") == "train" and "loss" in m]
        evals = [m for m in metrics if "eval_loss" in m]
        assert summary["curves"]["loss"]["step"] == [m["step"] for m in train]
        assert summary["curves"]["loss"]["value"] == [m["loss"] for m in train]
        # tokens seen grow with every step: the by-tokens axis is real, not the step renamed
        tokens = summary["curves"]["loss"]["tokens"]
        assert all(b > a > 0 for a, b in zip(tokens, tokens[1:], strict=False)), tokens
        best = min(evals, key=lambda m: m["eval_loss"])
        assert (summary["best_eval_loss"], summary["best_eval_step"]) == (best["eval_loss"], best["step"])
        assert summary["final_loss"] == manager.run(run_id).status()["final_loss"]
        assert summary["method"] == "sft/lora" and summary["state"] == "completed"
    assert [len(r["curves"]["loss"]["step"]) for r in result["runs"]] == [4, 6]
    report = json.loads((manager.run(ids[1]).path / "comparison.json").read_text())["summary"]
    assert result["runs"][1]["scores"]["bleu4"] == report["right_bleu4"]
    assert result["runs"][1]["scores"]["rougeL"] == report["right_rougeL"]
    assert result["runs"][0]["scores"] == {}  # no report was made for the first run
    # a report with the run on the left is saved with it too: its scores are the left side's, not the base's
    from engine.evaluation.batch import BatchComparer, CompareRequest

    left = BatchComparer(manager).run(CompareRequest(f"run:{ids[0]}", report_base(manager, ids[0]), general=False,
                                                     max_new_tokens=4, limit=4))["summary"]
    scores = manager.compare(ids)["runs"][0]["scores"]
    assert (scores["bleu4"], scores["rougeL"]) == (left["left_bleu4"], left["left_rougeL"])


def report_base(manager, run_id: str) -> str:
    return f"base:{manager.run(run_id).config().model_name_or_path}"


def test_the_differences_are_exactly_the_fields_that_differ(two_runs):
    manager, ids = two_runs
    differences = manager.compare(ids)["differences"]
    assert [d["field"] for d in differences] == ["max_steps", "learning_rate"]
    assert differences[0]["values"] == {ids[0]: 4, ids[1]: 6}
    assert differences[1]["values"] == {ids[0]: 5e-3, ids[1]: 1e-2}


def test_bad_picks_are_refused_with_the_reason(two_runs):
    manager, ids = two_runs
    with pytest.raises(RunError, match="pick at least two runs"):
        manager.compare(ids[:1])
    with pytest.raises(RunError, match="the same run is picked twice"):
        manager.compare([ids[0], ids[0]])
    with pytest.raises(RunError, match="no run 'nope'"):
        manager.compare([ids[0], "nope"])


def test_the_overlay_holds_each_runs_curve_by_step_and_by_tokens(two_runs):
    from tabs.charts import runs_figure

    manager, ids = two_runs
    result = manager.compare(ids)
    for by in ("step", "tokens"):
        figure = runs_figure(result, by, "en")
        for run in result["runs"]:
            loss = next(trace for trace in figure.data if trace.name == run["run_id"] and trace.xaxis == "x")
            assert list(loss.y) == run["curves"]["loss"]["value"]
            assert list(loss.x) == run["curves"]["loss"]["tokens" if by == "tokens" else "step"]
            evals = [trace for trace in figure.data if trace.name == run["run_id"] and trace.xaxis == "x2"]
            assert [list(t.y) for t in evals] == [run["curves"]["eval_loss"]["value"]]
        assert figure.layout.xaxis.title.text == ("tokens seen" if by == "tokens" else "step")
    # one panel per curve the runs have: loss, eval loss and learning rate (no reward in SFT)
    titles = [a.text for a in runs_figure(result, "step", "zh").layout.annotations]
    assert titles == ["损失", "验证损失", "学习率"]


def test_the_cli_prints_the_table_and_the_differences(two_runs, capsys):
    from engine.__main__ import main

    manager, ids = two_runs
    assert main(["compare-runs", *ids, "--outputs", str(manager.outputs)]) == 0
    out = capsys.readouterr().out
    assert all(run_id in out for run_id in ids)
    assert "settings that differ:" in out and "learning_rate: 0.005 | 0.01" in out and "max_steps: 4 | 6" in out
    assert main(["compare-runs", *ids, "--json", "--outputs", str(manager.outputs)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(manager.compare(ids)))


def test_runs_get_names_and_tags_that_the_search_finds(two_runs, capsys):
    from engine.__main__ import main

    manager, ids = two_runs
    assert manager.label(ids[0], "  baseline   run ", "lr-sweep, 基线，lr-sweep") == {
        "name": "baseline run", "tags": ["lr-sweep", "基线"]}  # spaces folded, Chinese commas split, no repeats
    assert [r["run_id"] for r in manager.search("baseline")] == [ids[0]]
    assert [r["run_id"] for r in manager.search("基线 LR-SWEEP")] == [ids[0]]  # every word, any case
    assert {r["run_id"] for r in manager.search("completed")} == set(ids)
    assert manager.search("baseline nothing-like-this") == []
    assert manager.run(ids[0]).status().get("name") is None  # the label lives apart from status.json
    with pytest.raises(RunError, match="keep it to 80"):
        manager.label(ids[0], "x" * 81, "")
    with pytest.raises(RunError, match="longer than 30 characters"):
        manager.label(ids[0], "ok", "a" * 31)
    assert manager.label_of(ids[0])["name"] == "baseline run"  # a refused label changes nothing
    assert main(["label", ids[1], "--name", "higher lr", "--tags", "lr-sweep", "--outputs", str(manager.outputs)]) == 0
    capsys.readouterr()
    assert main(["runs", "--search", "lr-sweep", "--outputs", str(manager.outputs)]) == 0
    out = capsys.readouterr().out
    assert "baseline run #lr-sweep #基线" in out and "higher lr #lr-sweep" in out
    # a field not given keeps what was saved; a search may name a tag as the table shows it
    assert main(["label", ids[1], "--tags", "final", "--outputs", str(manager.outputs)]) == 0
    assert manager.label_of(ids[1]) == {"name": "higher lr", "tags": ["final"]}
    assert [r["run_id"] for r in manager.search("#final")] == [ids[1]]
