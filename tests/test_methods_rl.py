"""GRPO and KTO runs on a tiny real model: they complete, chart their rewards, stop and resume; bad data and
bad reward settings are refused before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.runs.queue import RunManager
from tests.conftest import run_to_end, stop_after, tiny_config

GRPO = {"method": "grpo", "per_device_train_batch_size": 4, "grpo_num_generations": 2,
        "grpo_max_completion_length": 8, "reward_functions": "length:1, avoid:0.5", "reward_target_length": 3,
        "reward_avoid_words": "the", "sample_log_steps": 2}


@pytest.fixture
def prompt_file(tmp_path: Path) -> Path:
    rows = [{"prompt": f"Say something about number {i}.", "answer": str(i), "topic": "numbers"} for i in range(8)]
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def kto_file(tmp_path: Path) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Is {i} even?"},
                          {"role": "assistant", "content": "yes" if i % 3 else "no"}], "label": i % 2 == 0}
            for i in range(10)]
    path = tmp_path / "kto.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_grpo_run_charts_each_reward_and_logs_sampled_completions(tiny_model, prompt_file, outputs):
    config = tiny_config(tiny_model, prompt_file, outputs, max_steps=4, **GRPO)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.log_tail()
    events = [m for m in run.metrics() if m.get("type") == "train"]
    assert len(events) == 4
    for key in ("reward", "reward_std", "rewards_length_mean", "rewards_avoid_mean", "kl", "completions_mean_length"):
        assert all(key in e for e in events), (key, events[0])
    # the total is the weighted sum of the per-function means
    for e in events:
        assert e["reward"] == pytest.approx(e["rewards_length_mean"] + 0.5 * e["rewards_avoid_mean"], abs=1e-4)
    log = run.log_path.read_text()
    assert "sampled completions" in log and "length " in log and "avoid " in log
    assert (run.final_path / "adapter_config.json").exists()
    report = json.loads((run.path / "data_report.json").read_text())
    assert report["format"] == "prompts" and report["train_examples"] == 8


def test_grpo_stops_and_resumes_from_its_checkpoint(tiny_model, prompt_file, outputs):
    manager = RunManager(outputs)
    run_id = manager.submit(tiny_config(tiny_model, prompt_file, outputs, max_steps=8, save_steps=100, **GRPO))
    run = manager.run(run_id)
    assert stop_after(manager, run_id, 2) == "stopped", run.log_tail()
    stopped = run.status()["step"]
    assert 2 <= stopped < 8 and run.latest_checkpoint().name == f"checkpoint-{stopped}"
    manager.resume(run_id)
    assert manager.wait(run_id, timeout=180) == "completed", run.log_tail()
    steps = sorted(m["step"] for m in run.metrics() if m.get("type") == "train")
    assert steps == list(range(1, 9))


def test_kto_run_charts_rewards_and_kl(tiny_model, kto_file, outputs):
    config = tiny_config(tiny_model, kto_file, outputs, method="kto", max_steps=3, kto_desirable_weight=1.2)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.log_tail()
    events = [m for m in run.metrics() if m.get("type") == "train"]
    assert any("kl" in e for e in events) and any("rewards_chosen" in e or "rewards_rejected" in e for e in events)
    assert (run.final_path / "adapter_config.json").exists()
    assert run.config().kto_desirable_weight == 1.2


def test_kto_stops_and_resumes(tiny_model, kto_file, outputs):
    manager = RunManager(outputs)
    run_id = manager.submit(tiny_config(tiny_model, kto_file, outputs, method="kto", max_steps=10, save_steps=100))
    run = manager.run(run_id)
    assert stop_after(manager, run_id, 2, timeout=120) == "stopped", run.log_tail()
    manager.resume(run_id)
    assert manager.wait(run_id, timeout=120) == "completed", run.log_tail()
    assert run.status()["step"] == 10


def test_kto_without_labels_is_refused_before_the_model_loads(chat_file, outputs):
    config = tiny_config(Path("/nonexistent/model"), chat_file, outputs, method="kto", model_source="local")
    _, run, state = run_to_end(config, outputs)
    assert state == "failed"
    assert "method kto needs conversations whose last answer has a true/false label" in run.status()["error"]


def test_kto_row_with_a_bad_label_is_named(tmp_path, outputs):
    rows = [{"instruction": "q1", "output": "a1", "label": True},
            {"instruction": "q2", "output": "a2", "label": "maybe"},
            {"instruction": "q3", "output": "a3", "label": False}]
    data = tmp_path / "kto_bad.json"
    data.write_text(json.dumps(rows))
    from engine.data.prepare import read_samples
    from tests.conftest import data_config

    normalized, report = read_samples(data_config(data, method="kto"))
    assert report.usable == 2 and report.bad == ["kto_bad.json row 2: field 'label' must be true or false "
                                                 "(is this answer desirable?), got 'maybe'"]


def test_grpo_without_prompts_names_the_row(tmp_path, outputs):
    from engine.data.prepare import read_samples
    from engine.errors import DataError
    from tests.conftest import data_config

    data = tmp_path / "noprompt.jsonl"
    data.write_text(json.dumps({"answer": "4"}) + "\n" + json.dumps({"text": "hello"}) + "\n")
    with pytest.raises(DataError) as err:
        read_samples(data_config(data, method="grpo", per_device_train_batch_size=8))
    assert "GRPO needs prompts" in str(err.value) and "noprompt.jsonl line 1: no prompt" in str(err.value)


def test_grpo_answer_match_needs_a_reference_per_row(tmp_path):
    from engine.data.prepare import read_samples
    from tests.conftest import data_config

    data = tmp_path / "maths.jsonl"
    rows = [{"question": "1+1?", "answer": "2"}, {"question": "2+2?"},
            {"messages": [{"role": "user", "content": "3+3?"}, {"role": "assistant", "content": "6"}]},
            {"instruction": "Half of one?", "output": "1/2"}]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    normalized, report = read_samples(data_config(data, method="grpo", per_device_train_batch_size=8))
    assert [s.reference for s in normalized.samples] == ["2", "6", "1/2"]
    assert report.bad == ["maths.jsonl line 2: no reference answer for the answer_match reward (expected one of the "
                          "fields reference, answer, solution, ground_truth, final_answer, output, response, or an "
                          "assistant turn after the prompt)"]
    # the prompt is cut at the last user turn, so the data's own answer is not shown to the model
    assert normalized.samples[1].messages == [{"role": "user", "content": "3+3?"}]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"reward_functions": ""}, "GRPO needs at least one reward"),
    ({"reward_functions": "length:heavy"}, "weight of length must be a number"),
    ({"reward_functions": "format:1", "reward_format_pattern": "(unclosed"}, "not a valid regular expression"),
    ({"reward_functions": "contains:1"}, "reward_contain_words: the contains reward needs"),
    ({"reward_functions": "python:1"}, "reward_file: the python reward needs the path"),
    ({"reward_functions": "length:1", "reward_file": "r.py"}, "reward_file is set but reward_functions does not"),
    ({"per_device_train_batch_size": 6}, "must be a multiple of grpo_num_generations (4), e.g. 8"),
])
def test_grpo_settings_are_checked_with_the_field_named(overrides, message):
    from engine.config.train_config import TrainConfig

    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({"method": "grpo", "per_device_train_batch_size": 8, **overrides})
    assert message in str(err.value)


def test_kto_needs_a_batch_of_two():
    from engine.config.train_config import TrainConfig

    with pytest.raises(ConfigError, match="KTO estimates its KL term"):
        TrainConfig.from_dict({"method": "kto", "per_device_train_batch_size": 1})
