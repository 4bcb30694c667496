"""Hostile and broken input over the API of a password-protected (so confined) app: every case gets a
clear message within seconds, no traceback leaks, nothing is written outside the outputs folder, and
the app keeps answering. The cases are listed in CASES and counted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client

from tests.app_process import serve

pytestmark = pytest.mark.hostile

HUGE = "x" * (10 * 2**20)  # 10 MB
YAML_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" \
            "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
PYTHON_TAG = "learning_rate: !!python/object/apply:os.system ['touch /tmp/tunedesk-pwned']\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "hostile", "--auth", "eve:pw", "--max-upload-mb", "1")


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, auth=("eve", "pw"), verbose=False)


def outside(tmp: Path) -> dict[str, str]:
    return {"abs": str(tmp / "evil"), "up": "../../../../../../tmp/evil-up", "etc": "/etc/passwd"}


# (endpoint, keyword arguments, words the refusal must contain); None = any clear message
CASES: list[tuple[str, dict, tuple[str, ...] | None]] = [
    ("/start_run", {"yaml_text": YAML_BOMB}, ("unknown key",)),
    ("/start_run", {"yaml_text": PYTHON_TAG}, ("not valid YAML",)),
    ("/start_run", {"yaml_text": "- just\n- a list"}, ("expected a mapping",)),
    ("/start_run", {"yaml_text": "learning_rate: [1, 2"}, ("not valid YAML",)),
    ("/start_run", {"overrides": '{"learning_rate": NaN}'}, ("learning_rate",)),
    ("/start_run", {"overrides": '{"learning_rate": -1}'}, ("learning_rate: must be > 0",)),
    ("/start_run", {"overrides": '{"per_device_train_batch_size": 1e12}'}, ("per_device_train_batch_size",)),
    ("/start_run", {"overrides": '{"max_steps": "many"}'}, ("max_steps: expected a whole number",)),
    ("/start_run", {"overrides": '{"method": "rm -rf /"}'}, ("method",)),
    ("/start_run", {"overrides": HUGE}, None),
    ("/start_run", {"preset": "../../../etc/passwd"}, ("preset",)),
    ("/start_run", {"overrides": '{"dataset": "/etc/passwd"}'}, ("outside the folders",)),
    ("/start_run", {"overrides": '{"dataset": "samples:../../../../etc"}'}, ("outside the folders",)),
    ("/start_run", {"overrides": '{"reward_file": "/tmp/elsewhere.py", "reward_functions": "python:1", '
                                 '"method": "grpo", "per_device_train_batch_size": 8}'}, ("--allow-code",)),
    ("/get_run", {"run_id": "../../etc"}, ("no run",)),
    ("/get_run", {"run_id": "/etc/passwd"}, ("no run",)),
    ("/get_run", {"run_id": HUGE[:100_000]}, ("no run",)),
    ("/stop_run", {"run_id": "nonexistent\u0000id"}, ("no run",)),
    ("/delete_run", {"run_id": ".."}, ("no run",)),
    ("/delete_run", {"run_id": ""}, ("run",)),
    ("/resume_run", {"run_id": "../runs", "checkpoint": "../../"}, ("no run",)),
    ("/run_log", {"run_id": "../../etc/passwd", "lines": 10}, ("no run",)),
    ("/list_checkpoints", {"run_id": "../../../etc"}, ("no run",)),
    ("/inspect_dataset", {"source": "/etc/shadow"}, ("outside the folders",)),
    ("/inspect_dataset", {"source": "../../../../etc/passwd"}, ("outside the folders",)),
    ("/preview_samples", {"source": "samples/identity.json", "page": -5, "page_size": 10**9}, None),
    ("/dataset_histogram", {"source": "samples/identity.json", "bins": -3}, None),
    ("/clean_dataset", {"source": "samples/identity.json", "name": "../../../../tmp/evil-clean"}, ("name",)),
    ("/save_dataset_mapping", {"source": "samples/identity.json", "name": "/tmp/evil-map"}, ("name",)),
    ("/estimate_memory", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "batch": -4}, ("batch",)),
    ("/estimate_memory", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "max_len": 10**12}, None),
    ("/estimate_memory", {"model": "../../../etc"}, None),
    ("/register_local_model", {"path": "/etc"}, ("outside the folders",)),
    ("/delete_cached_model", {"folder": "/etc", "delete_files": True}, None),
    ("/model_structure", {"model": "/etc/passwd"}, None),
    ("/download_status", {"job_id": "../../etc"}, None),
    ("/cancel_download", {"job_id": "no-such-job"}, None),
    ("/dataset_job_status", {"job_id": "<script>alert(1)</script>"}, None),
    ("/export_model", {"run_id": "../../etc", "destination": "/tmp/evil-export"}, ("outside the folders",)),
    ("/export_model", {"run_id": "../../etc"}, ("no run",)),
    ("/export_status", {"job_id": "x" * 5000}, None),
    ("/chat_compare", {"left": "base:/etc", "right": "run:../../x", "message": "hi"}, None),
    ("/batch_compare", {"left": "base:x", "right": "run:../../etc", "questions": "/etc/passwd"}, None),
]


def call(client: Client, api: str, kwargs: dict) -> tuple[bool, str, float]:
    started = time.time()
    try:
        result = client.predict(api_name=api, **kwargs)
        return True, str(result)[:2000], time.time() - started
    except Exception as exc:  # noqa: BLE001 (gradio_client raises its own error types)
        return False, str(exc), time.time() - started


def test_every_hostile_case_gets_a_clear_answer_and_the_app_stays_up(app, client, tmp_path):
    before = set(Path("/tmp").iterdir())
    answered = []
    for api, kwargs, words in CASES:
        ok, message, seconds = call(client, api, kwargs)
        shown = {k: (v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v) for k, v in kwargs.items()}
        assert seconds < 60, (api, shown, seconds)
        assert "Traceback" not in message and 'File "/' not in message, (api, shown, message[:500])
        if words is not None:
            assert not ok, (api, shown, "was accepted", message[:300])
            for word in words:
                assert word in message, (api, shown, message[:500])
        elif not ok:
            assert message.strip(), (api, shown)
        answered.append((api, ok))
        assert client.predict(api_name="/list_runs") is not None  # still up after each case
    assert len(answered) == len(CASES) >= 40
    created = {p.name for p in set(Path("/tmp").iterdir()) - before}
    assert not {n for n in created if n.startswith(("evil", "tunedesk-pwned", "elsewhere"))}, created
    assert not Path("/tmp/tunedesk-pwned").exists()
    assert app.proc.poll() is None


def hostile_files(outputs: Path) -> dict[str, Path]:
    """Broken and hostile files where a confined app may read (its outputs folder): what an upload becomes."""
    folder = outputs / "datasets" / "hostile"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "binary": (folder / "binary.json", bytes(range(256)) * 64),
        "empty": (folder / "empty.jsonl", b""),
        "latin1": (folder / "latin1.json", '[{"instruction": "café", "output": "naïve"}]'.encode("latin-1")),
        "mixed": (folder / "mixed.jsonl", b'{"instruction": "ok", "output": "fine"}\n'
                  + '{"instruction": "caf\u00e9", "output": "x"}\n'.encode("cp1252")),
        "nul": (folder / "nul.json", b'[{"instruction": "a\x00b", "output": "c"}]'),
    }
    for path, data in files.values():
        path.write_bytes(data)
    links = {"link-file": folder / "passwd.json", "link-dir": folder / "etc"}
    links["link-file"].symlink_to("/etc/passwd")
    links["link-dir"].symlink_to("/etc")
    return {**{k: v[0] for k, v in files.items()}, **links}


def test_hostile_files_and_symlinks_get_clear_answers(app, client):
    outputs = app.log.parent / "outputs"
    files = hostile_files(outputs)
    cases: list[tuple[str, dict, tuple[str, ...] | None]] = []
    for name in ("binary", "empty", "latin1", "mixed", "nul"):
        cases += [("/inspect_dataset", {"source": str(files[name])}, None),
                  ("/preview_samples", {"source": str(files[name])}, None),
                  ("/start_run", {"overrides": f'{{"dataset": "{files[name]}", "max_steps": 1}}'}, None)]
    for source in (str(files["link-file"]), str(files["link-dir"] / "passwd"), "outputs:datasets/hostile/etc"):
        cases += [("/inspect_dataset", {"source": source}, ("outside the folders",)),
                  ("/start_run", {"overrides": f'{{"dataset": "{source}"}}'}, ("outside the folders",))]
    cases.append(("/register_local_model", {"path": str(files["link-dir"])}, ("outside the folders",)))
    for api, kwargs, words in cases:
        ok, message, seconds = call(client, api, kwargs)
        assert seconds < 60, (api, kwargs, seconds)
        assert "Traceback" not in message and 'File "/' not in message, (api, kwargs, message[:500])
        if words is not None:
            assert not ok and all(w in message for w in words), (api, kwargs, message[:500])
        elif not ok:
            assert message.strip(), (api, kwargs)
    # the broken files that train are named with the problem, not a decoding traceback
    ok, message, _ = call(client, "/inspect_dataset", {"source": str(files["binary"])})
    assert not ok and "binary.json" in message, message
    ok, message, _ = call(client, "/inspect_dataset", {"source": str(files["empty"])})
    assert not ok and "empty" in message.lower(), message
    assert len(cases) == 22
    # the runs started on broken files fail on their data, before any model loads, naming the file
    started = [r["run_id"] for r in client.predict(api_name="/list_runs")]
    assert len(started) == 5
    deadline = time.time() + 120
    while time.time() < deadline and any(r["state"] in ("pending", "running")
                                         for r in client.predict(api_name="/list_runs")):
        time.sleep(0.5)
    for run_id in started:
        status = client.predict(run_id, api_name="/get_run")["status"]
        assert status["state"] == "failed" and status["error"].startswith("bad data: "), status
        assert any(f.name in status["error"] for f in files.values()), status["error"]
    assert client.predict(api_name="/list_runs") is not None and app.proc.poll() is None


def test_uploads_over_the_limit_are_refused_and_land_outside_the_outputs(app):
    import http.cookiejar
    import urllib.error
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(urllib.request.Request(app.url + "/login", data=b"username=eve&password=pw", method="POST"))

    def upload(payload: bytes, name: str) -> tuple[int, str]:
        body = (b'--B\r\nContent-Disposition: form-data; name="files"; filename="' + name.encode()
                + b'"\r\n\r\n' + payload + b"\r\n--B--\r\n")
        req = urllib.request.Request(app.url + "/gradio_api/upload", data=body, method="POST")
        req.add_header("Content-Type", "multipart/form-data; boundary=B")
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    code, text = upload(b"x" * (2 * 2**20), "big.jsonl")  # the app was started with --max-upload-mb 1
    assert code == 413 and "maximum allowed size of 1048576 bytes" in text, (code, text[:300])
    for payload, name in ((b"", "empty.json"), (bytes(range(256)) * 16, "binary.json")):
        code, text = upload(payload, name)
        assert code == 200, (code, text[:300])
        landed = Path(__import__("json").loads(text)[0])
        assert landed.is_file() and (app.log.parent / "outputs") not in landed.parents
    assert app.proc.poll() is None


def test_hub_tokens_typed_in_are_never_written_anywhere(app, client):
    """Tokens go to the hub and nowhere else: not into the outputs folder (runs, jobs, downloads, logs)
    and not into the app's own log, whatever the call's outcome."""
    secret = "hf_TuneDeskSecret0123456789abcdef"
    calls = [("/search_models", {"query": "qwen", "source": "hf", "token": secret}),
             ("/model_info", {"repo": "Qwen/Qwen3-0.6B", "source": "hf", "token": secret}),
             ("/download_model", {"repo": "Qwen/Qwen3-0.6B", "source": "hf", "token": secret}),
             ("/export_model", {"run_id": "20260101-000000-x-sft-lora-ab12", "hub_repo": "me/x", "token": secret})]
    for api, kwargs in calls:
        ok, message, seconds = call(client, api, kwargs)
        assert secret not in message and seconds < 60, (api, message[:300])
    time.sleep(2)  # a download job fails in the background: let it write whatever it writes
    outputs = app.log.parent / "outputs"
    for path in [*outputs.rglob("*"), app.log]:
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), path
