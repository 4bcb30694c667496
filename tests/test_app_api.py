"""The real app over HTTP with gradio_client: every endpoint, a full run, stop and resume."""

from __future__ import annotations

import json
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


def numbers_run(client, tiny_model, folder) -> str:
    """A tiny LoRA run on "Say the number N." trained through the app (checkpoints at 5 and 10)."""
    data = folder / "numbers.json"
    data.write_text(json.dumps([{"instruction": f"Say the number {i}.", "output": f"The number is {i}."}
                                for i in range(12)]), encoding="utf-8")
    rid = client.predict(run_yaml(tiny_model, data, max_steps=10, save_steps=5, learning_rate=0.02), "", "",
                         api_name="/start_run")
    assert wait_state(client, rid, ("completed", "failed"))["state"] == "completed"
    return rid


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
    assert {"/start_run", "/list_runs", "/get_run", "/stop_run", "/resume_run", "/delete_run", "/run_log",
            "/env_report", "/estimate_memory"} <= names


def test_env_report_over_http(client):
    report = client.predict(False, api_name="/env_report")
    assert report["cpu"]["cores_logical"] >= 1 and report["markdown"].startswith("## TuneDesk environment")
    assert {r["package"] for r in report["dependencies"]} >= {"torch", "gradio", "transformers"}
    assert any(r["model"] == "SmolLM2-135M-Instruct" and r["lora"]["verdict"] == "fits" for r in report["can_train"])
    fit = client.predict("HuggingFaceTB/SmolLM2-135M-Instruct", "lora", 512, 2, False, "auto", "sft", 8,
                         api_name="/estimate_memory")
    assert fit["verdict"] == "fits" and fit["total_gb"] > fit["weights_gb"] > 0
    # a hub model known nowhere here: its config is fetched, and offline that says so quickly
    started = time.time()
    with pytest.raises(Exception, match="cannot reach Hugging Face"):
        client.predict("someone/unknown", "lora", 512, 2, False, "auto", "sft", 8, api_name="/estimate_memory")
    assert time.time() - started < 30
    with pytest.raises(Exception, match="not in TuneDesk's catalogue"):
        client.predict("no-such-model", "lora", 512, 2, False, "auto", "sft", 8, api_name="/estimate_memory")


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


def test_runs_are_labelled_searched_compared_and_traced_over_http(client, tiny_model, chat_file):
    ids = [client.predict(run_yaml(tiny_model, chat_file, max_steps=3, learning_rate=rate), "", "",
                          api_name="/start_run") for rate in (0.005, 0.01)]
    for run_id in ids:
        assert wait_state(client, run_id, {"completed", "failed"})["state"] == "completed"
    assert client.predict(ids[0], "first try", "baseline", api_name="/label_run") == {"name": "first try",
                                                                                      "tags": ["baseline"]}
    assert [r["run_id"] for r in client.predict("baseline", api_name="/search_runs")] == [ids[0]]
    compared = client.predict(ids, api_name="/compare_runs")
    assert [r["run_id"] for r in compared["runs"]] == ids
    assert [d["field"] for d in compared["differences"]] == ["learning_rate"]
    lineage = client.predict(ids[1], api_name="/run_lineage")
    assert lineage["lineage"]["datasets"][0]["spec"] == str(chat_file)
    assert {"base", "dataset", "run"} <= {n["kind"] for n in lineage["nodes"]}
    with pytest.raises(Exception, match="pick at least two runs"):
        client.predict(ids[:1], api_name="/compare_runs")


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


def test_dataset_explorer_endpoints_over_http(client, tiny_model, tmp_path):
    from tests.conftest import ROOT

    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/inspect_dataset", "/inspect_dataset_start", "/dataset_job_status", "/cancel_dataset_job",
            "/preview_samples", "/dataset_histogram", "/clean_dataset", "/save_dataset_mapping",
            "/list_datasets"} <= names
    assert not any(name.startswith(("/lambda", "/on_")) for name in names)  # UI handlers stay private
    source = str(ROOT / "samples" / "formats" / "sharegpt_tools.json")
    stats = client.predict(source, "auto", "", str(tiny_model), 64, 100, api_name="/inspect_dataset")
    assert (stats["format"], stats["rows"], stats["usable"], stats["bad_count"]) == ("sharegpt", 3, 3, 0)
    assert stats["language"] == {"en": 2, "zh": 1} and stats["truncated"] >= 1
    page = client.predict(source, 1, 2, "auto", "", str(tiny_model), 64, False, api_name="/preview_samples")
    kinds = {k for row in page["rows"] for ex in row["examples"] for k in ex["kinds"]}
    assert page["rows_total"] == 3 and kinds == {"trained", "masked", "cut"}
    hist = client.predict(source, "auto", "", str(tiny_model), 64, 10, api_name="/dataset_histogram")
    assert sum(hist["total"]) == 3 and hist["max_len"] == 64
    job = client.predict(source, "auto", "", str(tiny_model), 64, 100, api_name="/inspect_dataset_start")
    deadline = time.time() + 60
    while client.predict(job, api_name="/dataset_job_status")["state"] == "running" and time.time() < deadline:
        time.sleep(0.2)
    assert client.predict(job, api_name="/dataset_job_status")["state"] == "done"

    saved = client.predict(source, "tools-set", '{"valid_size": 1}', "auto", "", "", api_name="/clean_dataset")
    assert (saved["train"], saved["valid"]) == (2, 1)
    assert saved["folder"] in {d["spec"] for d in client.predict(api_name="/list_datasets")}
    run_id = client.predict(run_yaml(tiny_model, saved["folder"], max_steps=2), "", "", api_name="/start_run")
    assert wait_state(client, run_id, {"completed", "failed"})["state"] == "completed"

    spec = client.predict(str(ROOT / "samples" / "formats" / "custom_columns.csv"), "qa", "auto",
                          '{"prompt": "question", "response": "answer"}', api_name="/save_dataset_mapping")
    assert spec.endswith("datasets:qa")


def test_bad_dataset_files_get_messages_and_the_app_stays_up(client, tmp_path):
    binary = tmp_path / "photo.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(Exception, match="photo.json is a PNG image, not a .json text file"):
        client.predict(str(binary), "auto", "", "", 64, 100, api_name="/inspect_dataset")
    with pytest.raises(Exception, match="columns: not valid JSON"):
        client.predict(str(binary), "auto", "{nope", "", 64, 100, api_name="/inspect_dataset")
    with pytest.raises(Exception, match="file not found"):
        client.predict(str(tmp_path / "missing.jsonl"), 1, 2, "auto", "", "", 64, False, api_name="/preview_samples")
    assert isinstance(client.predict(api_name="/list_runs"), list)


def test_model_hub_endpoints_over_http(client, tiny_model, tmp_path):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/model_catalog", "/list_cached_models", "/delete_cached_model", "/register_local_model",
            "/model_structure"} <= names
    structure = client.predict("HuggingFaceTB/SmolLM2-135M-Instruct", api_name="/model_structure")
    assert structure["architecture"] == "LlamaForCausalLM" and structure["layers"] == 30
    catalog = client.predict("lora", 512, 1, True, api_name="/model_catalog")
    assert any(r["model"] == "SmolLM2-135M-Instruct" for r in catalog) and all(r["verdict"] == "fits"
                                                                                for r in catalog)
    incomplete = tmp_path / "half-model"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    with pytest.raises(Exception, match="not a complete model folder"):
        client.predict(str(incomplete), api_name="/register_local_model")
    info = client.predict(str(tiny_model), api_name="/register_local_model")
    try:
        assert info["kind"] == "folder"
        listed = client.predict(api_name="/list_cached_models")
        assert any(m["source"] == "local" and m["folder"] == info["folder"] for m in listed)
    finally:  # the registry lives in the user's TuneDesk cache: leave it as it was
        assert "files are kept" in client.predict(info["folder"], False, api_name="/delete_cached_model")
    assert tiny_model.is_dir()


def test_api_surface_is_exactly_what_the_readme_documents(client):
    """UI handlers stay private: the API page and view_api list the README's endpoints and nothing else."""
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### API", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `/")]
    documented = {name for line in rows for name in re.findall(r"`(/[a-z_]+)\(", line.split(" | ")[0])}
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == documented, (sorted(names - documented), sorted(documented - names))


def test_fit_plan_over_http_gives_a_config_that_starts(client, tiny_model, chat_file):
    plan = client.predict(str(tiny_model), str(chat_file), "sft", "fastest", 4, "precision: fp32\nmax_steps: 2",
                          False, 0.0, "zh", api_name="/fit_plan")
    assert plan["fits"] and plan["config"]["max_seq_length"] == 64 and plan["config"]["max_steps"] == 2
    assert plan["config"]["per_device_train_batch_size"] * plan["config"]["gradient_accumulation_steps"] == 4
    assert any("max_seq_length 64：覆盖" in r for r in plan["reasons"])  # the reasons in the language asked for
    import yaml

    rid = client.predict(yaml.safe_dump(plan["config"]), "", "", api_name="/start_run")
    assert wait_state(client, rid, ("completed", "failed"))["state"] == "completed"
    with pytest.raises(Exception, match="did not run out of memory"):
        client.predict(rid, api_name="/retry_with_plan")
