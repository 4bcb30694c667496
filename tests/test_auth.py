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
