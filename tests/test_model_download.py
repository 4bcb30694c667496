"""Model search, model pages and downloads, for real over HTTP: a hub on loopback (tests/hub_server.py)
serves a tiny model's files; HF_ENDPOINT points at it. Progress, cancel, resume after a cancel, a dropped
connection and a killed process, checksums, the load check, gated models, a full disk and the queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import JobError, ModelError
from engine.hub.download import DownloadManager
from engine.hub.info import search_models
from engine.hub.model_page import model_page
from engine.locations import hf_repo_dir
from tests.conftest import ROOT
from tests.hub_server import FakeHub

REPO = "tiny-org/tiny-qwen3"
WEIGHTS = "model.safetensors"


@pytest.fixture
def hub(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = FakeHub()
    server.add_folder(REPO, tiny_model)
    # the tests cancel, drop the connection and fill the disk (8 MiB) part-way through the weights, so
    # they rely on its size: fixed by the tiny model's vocabulary (conftest.VOCAB_SIZE), about 39 MB
    assert len(server.repos[REPO].files[WEIGHTS]) >= 32 * 2**20
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path / "tunedesk"))
    monkeypatch.setenv("TUNEDESK_REGION", "other")  # auto tries Hugging Face first
    yield server
    server.stop()


def wait_for(manager: DownloadManager, job_id: str, timeout: float = 60) -> dict:
    try:
        manager.jobs.wait(job_id, timeout)
    except JobError:
        pass
    return manager.status(job_id)


def follow(manager: DownloadManager, repo: str, source: str) -> tuple[dict, list[int]]:
    """Start a download and watch it to the end: its final status and the byte counts seen on the way."""
    job = manager.start(repo, source=source)
    seen = []
    while manager.status(job)["state"] in ("queued", "running"):
        seen.append(manager.status(job)["bytes"])
        time.sleep(0.05)
    return manager.status(job), seen


def weights_size(hub: FakeHub) -> int:
    return len(hub.repos[REPO].files[WEIGHTS])


def test_search_and_model_page(hub: FakeHub, tiny_model: Path):
    found = search_models("tiny", source="hf")
    assert [r["id"] for r in found] == [REPO]
    page = model_page(REPO, source="hf")
    config = json.loads((tiny_model / "config.json").read_text())
    from transformers import AutoModelForCausalLM

    real = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert page["shape"]["params"] == real.num_parameters()  # computed from config.json alone
    assert page["shape"]["layers"] == config["num_hidden_layers"] == 2
    assert page["shape"]["kv_heads"] == 2 and page["shape"]["vocab"] == config["vocab_size"]
    assert page["chat_template"] is True and "im_start" in page["chat_template_text"]
    assert page["licence"] == "apache-2.0" and "tiny test model" in page["card"]
    assert page["download_gb"] > 0 and set(page["memory"]) == {"full", "lora", "qlora4"}
    assert page["plan"]["method"] == "lora" and page["plan"]["max_seq_length"] == 1024  # a small model: LoRA fits
    # the config is kept: structure and estimate work for this hub model without downloading it
    from engine.hub.structure import model_structure
    from engine.sizing.fit import model_shape

    hub.stop()
    assert model_structure(REPO)["params"] == real.num_parameters()
    assert model_shape(REPO).layers == 2


def test_download_progress_then_the_model_loads_from_the_cache(hub: FakeHub):
    hub.throttle_bps = 40 * 2**20
    status, seen = follow(DownloadManager(), REPO, "auto")
    assert status["state"] == "done", status
    assert status["bytes"] == status["total"] > weights_size(hub)
    assert len({b for b in seen if 0 < b < status["total"]}) >= 3  # progress moved in steps
    assert any("tokenizer" in c for c in status["checks"]) and any("tensors readable" in c for c in status["checks"])
    assert status["hub"] == "hf" and Path(status["folder"]).name == hub.repos[REPO].sha
    # the Hugging Face cache layout: the model is listed and resolves offline by its id
    from engine.config.train_config import TrainConfig
    from engine.hub.disk import list_models
    from engine.models.resolve import resolve_model

    listed = [m for m in list_models() if m["source"] == "hf"]
    assert [m["id"] for m in listed] == [REPO] and listed[0]["size_gb"] > 0
    hub.stop()
    resolved = resolve_model(TrainConfig(model_name_or_path=REPO, model_source="hf"))
    assert Path(resolved.path) == Path(status["folder"])
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(resolved.path).num_parameters() > 0


def test_cancel_is_quick_and_a_new_start_resumes_without_refetching(hub: FakeHub):
    hub.throttle_bps = 4 * 2**20
    manager = DownloadManager()
    job = manager.start(REPO, source="hf")
    deadline = time.time() + 60
    while hub.served[WEIGHTS] < 2 * 2**20 and time.time() < deadline:
        time.sleep(0.05)
    asked = time.time()
    assert manager.cancel(job).endswith("cancelled")
    assert time.time() - asked < 3
    had = hub.served[WEIGHTS]
    assert 0 < had < weights_size(hub)
    assert not (hf_repo_dir(REPO) / "snapshots" / hub.repos[REPO].sha).exists()  # nothing looks complete
    hub.throttle_bps = 0
    again = manager.start(REPO, source="hf")
    status = wait_for(manager, again)
    assert status["state"] == "done", status
    assert status["resumed_bytes"] >= had
    assert any(path == WEIGHTS and start > 0 for path, start in hub.ranges)
    # every byte of the weights crossed the wire once; the chunk in flight at the cancel may be sent twice
    assert hub.served[WEIGHTS] - weights_size(hub) <= 2 * 64 * 1024


def test_a_dropped_connection_continues_where_it_stopped(hub: FakeHub):
    hub.drop_once[WEIGHTS] = 3 * 2**20 + 17
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="hf"))
    assert status["state"] == "done", status
    starts = [start for path, start in hub.ranges if path == WEIGHTS]
    assert len(starts) == 1 and 2 * 2**20 <= starts[0] <= 3 * 2**20 + 17  # continued, not restarted
    # bytes sent past the resume point before the drop are the only ones sent twice
    assert hub.served[WEIGHTS] == weights_size(hub) + (3 * 2**20 + 17 - starts[0])


def test_a_wrong_checksum_is_caught_and_nothing_is_kept(hub: FakeHub):
    hub.repos[REPO].wrong_sha256.add(WEIGHTS)
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="hf"))
    assert status["state"] == "failed" and "failed its checksum" in status["error"] and WEIGHTS in status["error"]
    assert not (hf_repo_dir(REPO) / "snapshots").exists()
    assert not list((hf_repo_dir(REPO) / "blobs").rglob("*.part"))


def test_a_corrupt_weight_file_is_caught_by_the_load_check(hub: FakeHub):
    files = hub.repos[REPO].files
    files[WEIGHTS] = b"\x07" * len(files[WEIGHTS])  # the hub's checksum matches these bytes: only loading tells
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="hf"))
    assert status["state"] == "failed", status
    assert "does not load" in status["error"] and WEIGHTS in status["error"]
    assert not (hf_repo_dir(REPO) / "refs" / "main").exists()
    assert not [p for p in (hf_repo_dir(REPO) / "snapshots").iterdir() if not p.name.startswith(".")]


def test_a_gated_model_asks_for_a_token_and_works_with_one(hub: FakeHub, tmp_path: Path):
    hub.repos[REPO].gated = True
    manager = DownloadManager(state_dir=tmp_path / "states")
    status = wait_for(manager, manager.start(REPO, source="hf"))
    assert status["state"] == "failed" and "token" in status["error"]
    status = wait_for(manager, manager.start(REPO, source="hf", token="hf_good_token"))
    assert status["state"] == "done", status
    saved = "".join(p.read_text() for p in (tmp_path / "states").glob("*.json"))
    assert "hf_good_token" not in saved  # the token is never written to disk


def test_downloads_queue_one_after_another(hub: FakeHub, tiny_model: Path):
    hub.add_folder("tiny-org/second", tiny_model)
    hub.throttle_bps = 20 * 2**20
    manager = DownloadManager()
    first, second = manager.start(REPO, source="hf"), manager.start("tiny-org/second", source="hf")
    assert manager.start(REPO, source="hf") == first  # the same model twice: the download already going
    # the first one's thread starts when the machine gets to it (seconds on two busy cores)
    deadline = time.time() + 30
    while manager.status(first)["state"] == "queued" and time.time() < deadline:
        time.sleep(0.05)
    assert manager.status(first)["state"] == "running" and manager.status(second)["state"] == "queued"
    assert wait_for(manager, first)["state"] == "done"
    assert wait_for(manager, second)["state"] == "done"
    assert [d["repo"] for d in manager.status()["downloads"]] == ["tiny-org/second", REPO]


def test_a_full_disk_is_named_and_the_download_resumes_later(hub: FakeHub, tmp_path: Path):
    """A file-size limit in a child process stands in for a full disk (the write fails with EFBIG)."""
    script = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 2**20, 8 * 2**20));"
        "from engine.hub.download import DownloadManager; m = DownloadManager(); j = m.start(sys.argv[1], 'hf');"
        "m.jobs.get(j).finished.wait(60); print(m.status(j)['state'], m.status(j)['error'])")
    out = subprocess.run([sys.executable, "-c", script, REPO], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("failed disk full"), out.stdout + out.stderr[-2000:]
    assert "continues where it stopped" in out.stdout
    manager = DownloadManager()
    status = wait_for(manager, manager.start(REPO, source="hf"))
    assert status["state"] == "done" and status["resumed_bytes"] > 0


def test_a_killed_app_leaves_an_interrupted_download_that_resumes(hub: FakeHub):
    hub.throttle_bps = 4 * 2**20
    script = ("import sys, time; from engine.hub.download import DownloadManager; m = DownloadManager();"
              "m.start(sys.argv[1], 'hf'); time.sleep(600)")
    child = subprocess.Popen([sys.executable, "-c", script, REPO], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 90
    while hub.served[WEIGHTS] < 3 * 2**20 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(1.2)  # let a status file be written with bytes in it
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    had = hub.served[WEIGHTS]
    hub.throttle_bps = 0
    manager = DownloadManager()
    interrupted = [d for d in manager.status()["downloads"] if d["state"] == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0]["repo"] == REPO and interrupted[0]["bytes"] > 0
    status = wait_for(manager, manager.resume(interrupted[0]["job_id"]))
    assert status["state"] == "done", status
    starts = [start for path, start in hub.ranges if path == WEIGHTS]
    assert len(starts) == 1 and starts[0] >= 2 * 2**20  # the weights continued from the partial file
    # only what was in flight when the process died crossed the wire twice
    # (the server may push a little more into the dead socket before it notices)
    assert had - starts[0] <= hub.served[WEIGHTS] - weights_size(hub) <= 4 * 2**20


def test_offline_search_page_and_download_fail_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MODELSCOPE_DOMAIN", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("TUNEDESK_CACHE", str(tmp_path))
    for call in (lambda: search_models("qwen", "auto"), lambda: model_page("Qwen/Qwen3-0.6B", "auto")):
        started = time.time()
        with pytest.raises(ModelError, match="cannot reach Hugging Face.*cannot reach ModelScope"):
            call()
        assert time.time() - started < 15
    manager = DownloadManager()
    started = time.time()
    status = wait_for(manager, manager.start("Qwen/Qwen3-0.6B", "auto"), timeout=20)
    assert time.time() - started < 15
    assert status["state"] == "failed" and "cannot reach" in status["error"] and "local folder" in status["error"]


def test_bad_ids_and_sources_are_explained(hub: FakeHub):
    manager = DownloadManager()
    for bad in ("", "no-slash", "../../etc", "a/b/c"):
        with pytest.raises(ModelError, match="not a hub model id"):
            manager.start(bad)
    with pytest.raises(ModelError, match="use auto, hf or modelscope"):
        manager.start(REPO, source="ftp")
    status = wait_for(manager, manager.start("tiny-org/absent", source="hf"))
    assert status["state"] == "failed" and "was not found" in status["error"]


def test_the_cli_searches_shows_a_page_and_downloads(hub: FakeHub):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)

    found = cli("search", "tiny")
    assert found.returncode == 0 and REPO in found.stdout
    page = cli("info", REPO, "--source", "hf")
    assert page.returncode == 0 and "Qwen3ForCausalLM" in page.stdout and "lora" in page.stdout
    done = cli("download", REPO, "--source", "hf")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].endswith(hub.repos[REPO].sha)
    missing = cli("download", "tiny-org/absent", "--source", "hf")
    assert missing.returncode == 1 and "was not found" in missing.stderr
