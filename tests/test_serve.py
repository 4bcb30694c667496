"""The OpenAI-compatible endpoint on the running app (python app.py): the official `openai` client and
plain HTTP against a tiny LoRA run trained through the app, its answers equal to Compare Chat's, the
errors OpenAI clients expect, API keys and the rate limit on a password-protected app, and a training run
taking the memory (503 until it ends)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from gradio_client import Client
from openai import APIStatusError, AuthenticationError, NotFoundError, OpenAI, RateLimitError

from engine.serve.keys import RateLimit
from engine.serve.protocol import ApiError
from engine.serve.stop_text import StopText
from tests.app_process import serve
from tests.test_app_api import numbers_run, run_yaml, wait_state

QUESTION = "Say the number 2."


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    yield from serve(tmp_path_factory, "serve-app")


@pytest.fixture(scope="module")
def gradio(app):
    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def run_id(gradio, tiny_model, tmp_path_factory):
    return numbers_run(gradio, tiny_model, tmp_path_factory.mktemp("serve-data"))


@pytest.fixture(scope="module")
def client(app):
    return OpenAI(base_url=app.url + "/v1", api_key="unused-on-a-local-app", max_retries=0, timeout=120)


def post(url: str, body: bytes | dict, key: str = "") -> tuple[int, Any, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def test_models_list_every_side_compare_chat_offers(client, run_id, tiny_model):
    ids = [m.id for m in client.models.list().data]
    assert {f"run:{run_id}", f"run:{run_id}@checkpoint-5", f"run:{run_id}@checkpoint-10",
            f"base:{tiny_model}"} <= set(ids)
    assert ids[0].startswith("base:")  # the bundled model first, as in Compare Chat's menus
    assert client.models.retrieve(f"run:{run_id}").id == f"run:{run_id}"


def test_chat_answers_what_compare_chat_answers(client, gradio, run_id, tiny_model, tiny_tokenizer):
    compared = gradio.predict(f"base:{tiny_model}", f"run:{run_id}", QUESTION, "", 0.0, 1.0, 0, 12, 1.0, 0,
                              api_name="/chat_compare")
    assert compared["right"]
    served = client.chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user", "content": QUESTION}],
                                            temperature=0, max_tokens=12)
    assert served.choices[0].message.content == compared["right"]
    base = client.chat.completions.create(model=f"base:{tiny_model}", temperature=0, max_tokens=12,
                                          messages=[{"role": "user", "content": QUESTION}])
    assert base.choices[0].message.content == compared["left"]
    prompt = tiny_tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True,
                                                tokenize=True, return_dict=True)["input_ids"]
    assert served.usage.prompt_tokens == len(prompt)
    assert 0 < served.usage.completion_tokens <= 12
    assert served.usage.total_tokens == served.usage.prompt_tokens + served.usage.completion_tokens
    assert served.choices[0].finish_reason == ("length" if served.usage.completion_tokens == 12 else "stop")
    # a bare run id names the run's final model
    again = client.chat.completions.create(model=run_id, messages=[{"role": "user", "content": QUESTION}],
                                           temperature=0, max_tokens=12)
    assert again.choices[0].message.content == compared["right"]

    chunks = list(client.chat.completions.create(model=f"run:{run_id}", temperature=0, max_tokens=12, stream=True,
                                                 messages=[{"role": "user", "content": QUESTION}],
                                                 stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == compared["right"] and len([p for p in pieces if p]) >= 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == served.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == served.usage.completion_tokens


def test_stop_strings_end_the_answer_before_them(client, run_id):
    whole = client.chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user", "content": QUESTION}],
                                           temperature=0, max_tokens=12).choices[0].message.content
    stop = whole[len(whole) // 2:len(whole) // 2 + 2]
    assert stop.strip(), whole
    cut = client.chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user", "content": QUESTION}],
                                         temperature=0, max_tokens=12, stop=[stop])
    assert cut.choices[0].message.content == whole[:whole.find(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model=f"run:{run_id}", temperature=0, max_tokens=12, stop=stop,
                                              stream=True, messages=[{"role": "user", "content": QUESTION}])
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == whole[:whole.find(stop)]


def test_plain_completions_skip_the_chat_template(client, tiny_model, tiny_tokenizer):
    out = client.completions.create(model=f"base:{tiny_model}", prompt="The number is", max_tokens=6, temperature=0)
    assert out.choices[0].text and out.object == "text_completion"
    assert out.usage.prompt_tokens == len(tiny_tokenizer("The number is")["input_ids"])
    streamed = client.completions.create(model=f"base:{tiny_model}", prompt="The number is", max_tokens=6,
                                         temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == out.choices[0].text


def test_sampling_repeats_with_a_seed(client, run_id):
    def sample(seed):
        return client.chat.completions.create(model=f"run:{run_id}", temperature=1.5, seed=seed, max_tokens=10,
                                              messages=[{"role": "user", "content": QUESTION}]
                                              ).choices[0].message.content
    assert sample(7) == sample(7)


def test_bad_requests_get_openai_error_objects(app, client, run_id):
    url = app.url + "/v1/chat/completions"
    status, _, body = post(url, b"{not json")
    assert status == 400 and "not valid JSON" in body["error"]["message"] and "line 1" in body["error"]["message"]
    status, _, body = post(url, {"model": f"run:{run_id}"})
    assert status == 400 and body["error"]["param"] == "messages"
    status, _, body = post(url, {"model": f"run:{run_id}", "temperature": 5,
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and body["error"]["param"] == "temperature" and "0.0 to 2.0" in body["error"]["message"]
    status, _, body = post(url, {"model": f"run:{run_id}", "messages": [{"role": "tool", "content": "x"}]})
    assert status == 400 and body["error"]["param"] == "messages[0].role"
    status, _, body = post(url, {"model": f"run:{run_id}", "max_tokens": 8192,
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and body["error"]["code"] == "context_length_exceeded" and "max_tokens" in \
        body["error"]["message"]
    for hostile, param in ((b'{"model": "x", "temperature": NaN, "messages": []}', "temperature"),
                           (b"[" * 100_000 + b"]" * 100_000, None), (b"\xff\xfe not text", None),
                           (json.dumps({"model": f"run:{run_id}", "messages": [{"role": "user", "content": [
                               {"type": "image_url", "image_url": {"url": "x"}}]}]}).encode(),
                            "messages[0].content"),
                           (json.dumps({"model": f"run:{run_id}", "n": 3, "messages": []}).encode(), "n")):
        status, _, body = post(url, hostile)
        assert status == 400 and body["error"]["param"] == param, (hostile[:60], body)
    status, _, body = post(url, b" " * (5 << 20))
    assert status == 413 and "limit" in body["error"]["message"]
    with pytest.raises(NotFoundError) as missing:
        client.chat.completions.create(model="run:no-such-run", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "model_not_found" and "GET /v1/models" in missing.value.message
    status, _, body = post(app.url + "/v1/embeddings", {"model": "x", "input": "y"})
    assert status == 404 and "/v1/chat/completions" in body["error"]["message"]
    # the app is still up and answering
    assert client.chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user", "content": "hi"}],
                                          temperature=0, max_tokens=3).choices[0].message.content is not None


def test_a_training_run_takes_the_memory_and_the_endpoint_says_so(app, gradio, client, run_id, tiny_model, tmp_path):
    client.chat.completions.create(model=f"run:{run_id}", messages=[{"role": "user", "content": "hi"}],
                                   temperature=0, max_tokens=2)  # a model in the pool for the run to unload
    data = tmp_path / "more.json"
    data.write_text(json.dumps([{"instruction": f"Count to {i}.", "output": " ".join(map(str, range(i)))}
                                for i in range(2, 14)]), encoding="utf-8")
    training = gradio.predict(run_yaml(tiny_model, data, max_steps=60), "", "", api_name="/start_run")
    refused = None
    deadline = time.time() + 120
    while time.time() < deadline and refused is None:
        status, headers, body = post(app.url + "/v1/chat/completions",
                                     {"model": f"run:{run_id}", "messages": [{"role": "user", "content": "hi"}],
                                      "max_tokens": 2})
        if status == 503:
            refused = (headers, body)
        elif gradio.predict(training, api_name="/get_run")["state"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert refused is not None, "the endpoint never answered 503 while the run trained"
    headers, body = refused
    assert body["error"]["code"] == "training_in_progress" and training in body["error"]["message"]
    assert int(headers["Retry-After"]) > 0
    assert wait_state(gradio, training, ("completed", "failed"))["state"] == "completed"
    log = gradio.predict(training, api_name="/run_log")
    assert "unloaded Compare Chat's models" in (log if isinstance(log, str) else json.dumps(log))
    deadline = time.time() + 30
    while True:  # the trainer thread lets go of the run a moment after its state says completed
        try:
            answer = client.chat.completions.create(model=f"run:{run_id}", temperature=0, max_tokens=2,
                                                    messages=[{"role": "user", "content": "hi"}])
            break
        except APIStatusError as exc:
            assert exc.status_code == 503 and time.time() < deadline
            time.sleep(0.3)
    assert answer.choices[0].message.content is not None


# --- a password-protected app: keys and the rate limit --------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    yield from serve(tmp_path_factory, "serve-locked", "--auth", "ann:secret-pw", "--api-rate", "3")


def test_a_locked_app_generates_a_key_prints_it_and_never_saves_it(locked):
    printed = re.search(r"API key \(not saved anywhere.*?\): (td-\S+)", locked.log.read_text())
    assert printed, locked.log.read_text()[-2000:]
    key = printed.group(1)
    with pytest.raises(urllib.error.HTTPError) as no_key:
        urllib.request.urlopen(locked.url + "/v1/models", timeout=10)
    assert no_key.value.code == 401 and "Bearer" in json.loads(no_key.value.read())["error"]["message"]
    with pytest.raises(AuthenticationError) as wrong:
        OpenAI(base_url=locked.url + "/v1", api_key="td-wrong", max_retries=0).models.list()
    assert wrong.value.body["code"] == "invalid_api_key"
    client = OpenAI(base_url=locked.url + "/v1", api_key=key, max_retries=0)
    assert client.models.list().data[0].id.startswith("base:")
    # Gradio's own login still guards the UI; the key opens only /v1
    with pytest.raises(urllib.error.HTTPError) as page:
        urllib.request.urlopen(urllib.request.Request(locked.url + "/config",
                                                      headers={"Authorization": f"Bearer {key}"}), timeout=10)
    assert page.value.code == 401
    saved = [p for p in (locked.log.parent / "outputs").rglob("*") if p.is_file()]
    assert not [p for p in saved if key.encode() in p.read_bytes()]

    client.models.retrieve(client.models.list().data[0].id)  # the second and third requests (the limit is 3)
    with pytest.raises(RateLimitError) as limited:
        client.models.list()
    retry = int(limited.value.response.headers["Retry-After"])
    assert 1 <= retry <= 60 and "3 requests in a minute" in limited.value.message


def test_the_rate_limit_frees_a_slot_as_the_minute_passes():
    now = [1000.0]
    limit = RateLimit(2, clock=lambda: now[0])
    limit.check("k")
    now[0] += 20
    limit.check("k")
    with pytest.raises(ApiError) as refused:
        limit.check("k")
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "40"
    limit.check("another key")  # each key has its own minute
    now[0] += 40
    limit.check("k")


def test_stop_text_never_sends_what_may_become_a_stop_string():
    cut = StopText(("END",))
    sent = []
    for text in ("ab", "abE", "abEN", "abENx", "abENxEN", "abENxEND and more"):
        if cut.update(text):
            sent.append(cut.delta(final=True))
            break
        sent.append(cut.delta())
    assert "".join(sent) == "abENx" and cut.stopped
    partial = StopText(())
    partial.update("caf\ufffd")
    assert partial.delta() == "caf"  # half of é waits for its other byte
    partial.update("café")
    assert partial.delta() == "é"


def test_the_endpoint_alone_from_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    from engine.config.field_info import DEFAULT_MODEL
    from engine.training.launch import free_port
    from tests.conftest import ROOT

    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", str(port), "--outputs",
                             str(tmp_path / "outputs"), "--api-key", "k-1"], cwd=ROOT, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k-1", max_retries=0)
        deadline = time.time() + 60
        while True:
            try:
                models = client.models.list()
                break
            except Exception:
                assert proc.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.3)
        assert [m.id for m in models.data] == [f"base:{DEFAULT_MODEL}"]
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k-2", max_retries=0).models.list()
        assert "API key: the one given with --api-key" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
