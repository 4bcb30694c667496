"""Hub downloads fail fast with a clear message when the hub cannot be reached (never hang)."""

from __future__ import annotations

import socket
import time

import pytest

from engine.config.train_config import TrainConfig
from engine.data.prepare import read_samples
from engine.errors import DataError, HubUnreachable, ModelError
from engine.models.resolve import resolve_model


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket closes


def test_hf_model_download_fails_fast_offline(monkeypatch, closed_port, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    started = time.time()
    with pytest.raises(HubUnreachable) as err:
        resolve_model(TrainConfig(model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct", model_source="hf"))
    assert time.time() - started < 15
    assert "cannot reach Hugging Face" in str(err.value) and "modelscope" in str(err.value)


def test_modelscope_download_fails_fast_offline(monkeypatch, closed_port):
    monkeypatch.setenv("MODELSCOPE_DOMAIN", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ModelError, match="cannot reach ModelScope"):
        resolve_model(TrainConfig(model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct", model_source="modelscope"))


def test_hub_dataset_fails_fast_offline(monkeypatch, closed_port):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(DataError, match="cannot reach Hugging Face"):
        read_samples(TrainConfig(dataset="someone/some-dataset"))


def test_real_default_endpoint_answers_within_seconds(monkeypatch, tmp_path):
    """On this offline machine the real hub is unreachable: the error must still come quickly."""
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    started = time.time()
    # a repo that does not exist: offline it is unreachable, online it is a quick "not found"
    with pytest.raises(ModelError):
        resolve_model(TrainConfig(model_name_or_path="tunedesk-tests/no-such-model", model_source="hf"))
    assert time.time() - started < 15


def test_nonsense_model_names_are_explained():
    with pytest.raises(ModelError, match="neither an existing folder nor a hub id"):
        resolve_model(TrainConfig(model_name_or_path="not a model"))


def test_explorer_hub_dataset_with_subset_and_split_fails_fast_offline(monkeypatch, closed_port, tmp_path):
    from engine.data.explorer import DatasetChoice, DatasetExplorer
    from tabs.dataset import with_hub_options

    monkeypatch.setenv("MODELSCOPE_DOMAIN", f"http://127.0.0.1:{closed_port}")
    source = with_hub_options("ms:someone/some-dataset", "zh", "validation")
    assert source == "ms:someone/some-dataset?subset=zh&split=validation"
    assert with_hub_options("samples/identity.json", "zh", "test") == "samples/identity.json"
    started = time.time()
    with pytest.raises(DataError, match="cannot reach ModelScope"):
        DatasetExplorer(tmp_path / "outputs").preview(DatasetChoice(source), 1, 1)
    assert time.time() - started < 15
