"""A password-protected app: nothing is served without a login, and typed paths stay confined."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from gradio_client import Client

from tests.app_process import AppProcess, serve

pytestmark = pytest.mark.hostile


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "auth", "--auth", "alice:s3cret")


def request_status(url: str, method: str = "GET", body: bytes | None = None, content_type: str = "") -> int:
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


UPLOAD = b'--B\r\nContent-Disposition: form-data; name="files"; filename="a.json"\r\n\r\n[]\r\n--B--\r\n'
# every route that reaches the app: config, API description, file route, uploads, queue, calls, streams
GUARDED = [
    ("GET", "/config", None, ""),
    ("GET", "/gradio_api/info", None, ""),
    ("GET", "/gradio_api/info?all_endpoints=true", None, ""),
    ("GET", "/gradio_api/openapi.json", None, ""),
    ("GET", "/gradio_api/file={outputs}/runs", None, ""),
    ("POST", "/gradio_api/upload", UPLOAD, "multipart/form-data; boundary=B"),
    ("GET", "/gradio_api/upload_progress?upload_id=x", None, ""),
    ("POST", "/gradio_api/queue/join", b'{"data": [], "fn_index": 0, "session_hash": "s"}', "application/json"),
    ("GET", "/gradio_api/queue/data?session_hash=s", None, ""),
    ("POST", "/gradio_api/call/list_runs", b'{"data": []}', "application/json"),
    ("POST", "/gradio_api/run/list_runs", b'{"data": []}', "application/json"),
    ("GET", "/gradio_api/heartbeat/s", None, ""),
    ("GET", "/monitoring", None, ""),
]


def test_nothing_is_served_without_credentials(app):
    outputs = app.log.parent / "outputs"
    refused = {f"{m} {path}": request_status(app.url + path.format(outputs=outputs), m, body, ctype)
               for m, path, body, ctype in GUARDED}
    assert set(refused.values()) == {401}, refused
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises several types for a refused login)
        Client(app.url, verbose=False).predict(api_name="/list_runs")
    with pytest.raises(Exception):  # noqa: B017
        Client(app.url, auth=("alice", "wrong"), verbose=False)


def test_paths_outside_allowed_folders_are_refused(app, tmp_path):
    client = Client(app.url, auth=("alice", "s3cret"), verbose=False)
    assert client.predict(api_name="/list_runs") == []
    outside = tmp_path / "private.json"
    outside.write_text('[{"instruction": "q", "output": "a"}]')
    with pytest.raises(Exception, match="outside the folders this shared app may read"):
        client.predict("", "", f'{{"dataset": "{outside}"}}', api_name="/start_run")
    with pytest.raises(Exception, match="outside the folders"):
        client.predict("", "", '{"model_name_or_path": "/etc"}', api_name="/start_run")
    assert client.predict(api_name="/list_runs") == []
    # the Dataset Explorer reads nothing outside them either, neither data nor a model's tokenizer
    with pytest.raises(Exception, match="outside the folders this shared app may read"):
        client.predict(str(outside), "auto", "", "", 128, 100, api_name="/inspect_dataset")
    with pytest.raises(Exception, match="outside the folders"):
        client.predict("/etc/passwd", 1, 1, "auto", "", "", 128, False, api_name="/preview_samples")
    with pytest.raises(Exception, match="model: /etc is outside the folders"):
        client.predict("samples/formats/kto.jsonl", 1, 1, "auto", "", "/etc", 128, False, api_name="/preview_samples")


def test_file_route_serves_nothing_outside_allowed_folders(app):
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(urllib.request.Request(app.url + "/login", data=b"username=alice&password=s3cret", method="POST"))
    for target in ("/etc/passwd", str(app.log)):
        try:
            code = opener.open(f"{app.url}/gradio_api/file={target}").status
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code in (403, 404), target
    # a symlink inside the outputs folder that points outside it is not followed
    link = app.log.parent / "outputs" / "passwd-link"
    link.symlink_to("/etc/passwd")
    try:
        code = opener.open(f"{app.url}/gradio_api/file={link}").status
    except urllib.error.HTTPError as exc:
        code = exc.code
    assert code == 403
    # a logged-in browser keeps its session heartbeat
    with opener.open(f"{app.url}/gradio_api/heartbeat/s", timeout=5) as resp:
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")


def test_share_without_auth_generates_a_password(tmp_path):
    """Offline the public link cannot be made; the local app still never opens without the login."""
    process = AppProcess(tmp_path / "outputs", "--share").wait_ready()
    try:
        log = process.log.read_text()
        password = log.split("with password ", 1)[1].split()[0]
        assert request_status(process.url + "/config") == 401
        client = Client(process.url, auth=("tunedesk", password), verbose=False)
        assert client.predict(api_name="/list_runs") == []
    finally:
        process.stop()


def test_code_execution_is_refused_without_allow_code(app, tmp_path):
    """A shared or password-protected app runs no user Python: neither a GRPO reward file nor a model's
    remote code, and the refusal names the flag that would allow it."""
    client = Client(app.url, auth=("alice", "s3cret"), verbose=False)
    grpo = ('{"method": "grpo", "per_device_train_batch_size": 8, "dataset": "samples/brief_prompts.jsonl", '
            '"reward_functions": "python:1", "reward_file": "samples/eval/rewards_example.py"}')
    with pytest.raises(Exception, match="shared or password-protected, so TuneDesk refuses it.*--allow-code"):
        client.predict("", "", grpo, api_name="/start_run")
    with pytest.raises(Exception, match="trust_remote_code.*--allow-code"):
        client.predict("", "", '{"trust_remote_code": true}', api_name="/start_run")
    assert client.predict(api_name="/list_runs") == []


def test_login_page_tells_a_visitor_nothing_about_the_app(app):
    """Without the password, the page at / is the login form: no endpoint names, labels or defaults."""
    import http.cookiejar

    with urllib.request.urlopen(app.url + "/", timeout=10) as resp:
        page = resp.read().decode("utf-8")
    assert '"auth_required": true' in page.replace('"auth_required":true', '"auth_required": true')
    assert "gradio_api_info = {};" in page
    for secret in ("start_run", "estimate_memory", "yaml_text", "export_model", "named_endpoints"):
        assert secret not in page, secret
    # a logged-in user still gets the full page with its API description
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(urllib.request.Request(app.url + "/login", data=b"username=alice&password=s3cret", method="POST"))
    with opener.open(app.url + "/", timeout=10) as resp:
        assert "start_run" in resp.read().decode("utf-8")


# Parameters that can carry a path on this machine (a chat side `base:<folder>` is one); every documented
# endpoint taking one must refuse a path outside the allowed folders. A new endpoint with such a parameter
# fails here until it is listed below, with a call that proves it goes through the engine's door.
PATH_PARAMS = {"source", "model", "path", "folder", "questions", "destination", "left", "right", "yaml_text",
               "overrides"}
NOT_PATHS = {  # endpoint: its parameters above that name no file, and why
    "search_models": {"source"},  # hf | modelscope | auto
    "model_info": {"source"},
    "download_model": {"source"},  # a hub id goes into the hub's own cache
}
SIDE = "base:HuggingFaceTB/SmolLM2-135M-Instruct"
VALID = {"source": "samples/formats/kto.jsonl", "left": SIDE, "right": SIDE, "message": "hi", "name": "copy",
         "run_id": "20260101-000000-x", "format": "auto"}
AS_PATH = {"left": "base:{out}", "right": "base:{out}", "yaml_text": "dataset: {out}",
           "overrides": '{{"model_name_or_path": "{out}"}}'}
EXPORT_FORMAT = {"export_model": {"format": "adapter"}}
REFUSED = ("outside the folders this shared app may read", "only possible in a local app")


def test_every_path_taking_endpoint_refuses_a_path_outside_the_allowed_folders(app, tmp_path):
    client = Client(app.url, auth=("alice", "s3cret"), verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert len(endpoints) > 30  # every documented endpoint was listed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.json").write_text('[{"instruction": "q", "output": "a"}]')
    checked = []
    for name, info in sorted(endpoints.items()):
        api = name.lstrip("/")
        params = [p["parameter_name"] for p in info["parameters"]]
        for param in sorted(set(params) & PATH_PARAMS - NOT_PATHS.get(api, set())):
            value = AS_PATH.get(param, "{out}").format(out=outside / "data.json")
            kwargs = {p: VALID[p] for p in params if p in VALID} | EXPORT_FORMAT.get(api, {}) | {param: value}
            with pytest.raises(Exception) as refused:
                client.predict(**kwargs, api_name=name)
            assert any(text in str(refused.value) for text in REFUSED), (api, param, str(refused.value)[:300])
            checked.append(f"{api}.{param}")
    # the endpoints known today that take paths; more is fine, fewer means the list above lost one
    assert {"start_run.yaml_text", "start_run.overrides", "inspect_dataset.source", "inspect_dataset.model",
            "preview_samples.source", "clean_dataset.source", "save_dataset_mapping.source", "chat_compare.left",
            "chat_compare.right", "chat_stream.left", "batch_compare.questions", "batch_compare.right",
            "export_model.destination", "register_local_model.path", "model_structure.model",
            "estimate_memory.model", "delete_cached_model.folder"} <= set(checked), checked
    assert client.predict(api_name="/list_runs") == []  # nothing started on the way
