"""The real app over HTTP with gradio_client: every endpoint, a full run, stop and resume."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client

from tests.app_process import AppProcess, serve


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "app")


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


def run_yaml(tiny_model, chat_file, **extra) -> str:
    fields = {"model_name_or_path": str(tiny_model), "dataset": str(chat_file), "max_steps": 4,
              "per_device_train_batch_size": 2, "logging_steps": 1, "max_seq_length": 128, "learning_rate": 0.005}
    fields.update(extra)
    return "\n".join(f"{k}: {v}" for k, v in fields.items())


def wait_state(client, run_id, states, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        detail = client.predict(run_id, api_name="/get_run")
        if detail["state"] in states:
            return detail
        time.sleep(0.3)
    raise TimeoutError(detail)


def test_every_endpoint_is_documented(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/start_run", "/list_runs", "/get_run", "/stop_run", "/resume_run", "/delete_run", "/run_log"} <= names


def test_full_run_through_the_api(client, tiny_model, chat_file):
    run_id = client.predict(run_yaml(tiny_model, chat_file), "", "", api_name="/start_run")
    detail = wait_state(client, run_id, {"completed", "failed"})
    assert detail["state"] == "completed", client.predict(run_id, 100, api_name="/run_log")
    steps = [m for m in detail["metrics"] if m["type"] == "train"]
    assert [m["step"] for m in steps] == [1, 2, 3, 4] and all("loss" in m for m in steps)
    assert detail["metrics"][-1]["type"] == "summary"
    assert any(r["run_id"] == run_id for r in client.predict(api_name="/list_runs"))
    assert "completed" in client.predict(run_id, 50, api_name="/run_log")
    assert client.predict(run_id, api_name="/delete_run") == "deleted"
    assert all(r["run_id"] != run_id for r in client.predict(api_name="/list_runs"))


def test_preset_with_overrides_and_stop_then_resume(client, tiny_model, chat_file):
    overrides = (f'{{"model_name_or_path": "{tiny_model}", "dataset": "{chat_file}", "max_steps": 80, '
                 '"per_device_train_batch_size": 2, "save_steps": 1000, "max_seq_length": 128}')
    run_id = client.predict("", "cpu_demo_smollm2_lora", overrides, api_name="/start_run")
    deadline = time.time() + 120
    while client.predict(run_id, api_name="/get_run")["step"] < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert client.predict(run_id, api_name="/stop_run") == "stopping"
    stopped = wait_state(client, run_id, {"stopped", "completed", "failed"})
    assert stopped["state"] == "stopped" and stopped["checkpoints"] == [f"checkpoint-{stopped['step']}"]
    assert client.predict(run_id, "", api_name="/resume_run") == run_id
    done = wait_state(client, run_id, {"completed", "failed"})
    assert done["state"] == "completed" and done["step"] == 80


def test_errors_come_back_with_the_engine_message(client):
    with pytest.raises(Exception, match="did you mean 'learning_rate'"):
        client.predict("lerning_rate: 1", "", "", api_name="/start_run")
    with pytest.raises(Exception, match="no run 'nope'"):
        client.predict("nope", api_name="/get_run")
    with pytest.raises(Exception, match="no preset 'nope'"):
        client.predict("", "nope", "", api_name="/start_run")


def test_runs_survive_an_app_restart(tiny_model, chat_file, tmp_path):
    outputs = tmp_path / "outputs"
    first = AppProcess(outputs).wait_ready()
    try:
        client = Client(first.url, verbose=False)
        run_id = client.predict(run_yaml(tiny_model, chat_file, max_steps=2), "", "", api_name="/start_run")
        assert wait_state(client, run_id, {"completed", "failed"})["state"] == "completed"
    finally:
        first.stop()
    second = AppProcess(outputs).wait_ready()
    try:
        runs = Client(second.url, verbose=False).predict(api_name="/list_runs")
        assert [(r["run_id"], r["state"], r["step"]) for r in runs] == [(run_id, "completed", 2)]
    finally:
        second.stop()
