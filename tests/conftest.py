"""Shared fixtures: tiny real models built on the spot, sample data, and run helpers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
# the real Qwen3 tokenizer, vendored (tests/assets/qwen3-tokenizer/README.md): every machine has it
QWEN3_TOKENIZER = ROOT / "tests" / "assets" / "qwen3-tokenizer"


def shared_folder() -> Path | None:
    """The developers' ../shared (real LLaMA-Factory datasets), or None. TUNEDESK_SHARED=none hides it, as
    on a user's machine or a fresh clone; TUNEDESK_SHARED=PATH points elsewhere."""
    chosen = os.environ.get("TUNEDESK_SHARED", "")
    if chosen.lower() == "none":
        return None
    folder = Path(chosen) if chosen else ROOT.parent / "shared"
    return folder if folder.is_dir() else None


SHARED = shared_folder()
SHARED_DATA = SHARED / "data" if SHARED else ROOT / "no-shared-data"

sys.path.insert(0, str(ROOT))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # two test processes on two cores: one thread each (and in the apps and CLIs they start), or
    # OpenMP threads of both processes spin against each other
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# the few tests of the real LLaMA-Factory datasets in ../shared/data carry this marker (`pytest -m shared`
# runs just them); where the folder is absent or hidden they skip, saying so
needs_shared = pytest.mark.shared
NO_SHARED = ("checks the real LLaMA-Factory datasets in ../shared/data, which only the developers' machines have "
             "(absent, or hidden with TUNEDESK_SHARED=none)")


# the longest files first: with two test processes (`make test`), the SmolLM2 demo starts at once on one
# while the other takes the rest, instead of running alone at the end
LONGEST_FIRST = ("test_smollm2.py", "test_browser.py", "test_faults.py", "test_export.py", "test_knobs.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    if SHARED is None:
        for item in items:
            if item.get_closest_marker("shared"):
                item.add_marker(pytest.mark.skip(reason=NO_SHARED))

# Qwen3's own embedding size (its vocabulary padded to a multiple of 128): the tiny models' weights, and
# so the bytes a download test moves and the shards an export test cuts, do not depend on the tokenizer
VOCAB_SIZE = 151_936


def build_tiny_model(folder: Path, tokenizer_source: Path = QWEN3_TOKENIZER) -> Path:
    """A random-init 2-layer Qwen3 (about 10M parameters, 39 MB in fp32) around a real tokenizer."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(tokenizer_source)
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init 2-layer Qwen3 with the real Qwen3 tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    rows = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(12)]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


def data_config(dataset: Path | str, **kw: object):
    """A TrainConfig around a dataset, for data tests that load no model."""
    from engine.config.train_config import TrainConfig

    return TrainConfig.from_dict({"dataset": str(dataset), **kw})


def tiny_config(model: Path, dataset: Path | str, outputs: Path, **overrides: object):
    """Tests compare losses across runs and processes, so precision is fixed: `auto` picks bf16 on CPUs
    with AVX-512 BF16 and fp32 elsewhere (test_runs.py trains the bf16 path where it is fast)."""
    from engine.config.train_config import TrainConfig

    base = {"precision": "fp32", "model_name_or_path": str(model), "dataset": str(dataset), "output_dir": str(outputs),
            "max_steps": 6, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3, "warmup_ratio": 0.0, "lr_scheduler_type": "constant", "logging_steps": 1,
            "save_steps": 100, "max_seq_length": 128, "lora_dropout": 0.0, "seed": 1}
    return TrainConfig.from_dict({**base, **overrides})


def run_to_end(config, outputs: Path, timeout: float = 300):
    from engine.runs.queue import RunManager

    manager = RunManager(outputs)
    run_id = manager.submit(config)
    state = manager.wait(run_id, timeout=timeout)
    return manager, manager.run(run_id), state


def stop_after(manager, run_id: str, steps: int, timeout: float = 180) -> str:
    """Let a submitted run reach `steps`, press Stop, and return the state it ends in."""
    import time

    run = manager.run(run_id)
    deadline = time.time() + timeout
    # metrics.jsonl gets every logged step; status.json is rewritten at most once a second, and a tiny
    # model can run all its steps within that second
    while max((e.get("step", 0) for e in run.metrics()), default=0) < steps and time.time() < deadline:
        time.sleep(0.02)
    manager.stop(run_id)
    return manager.wait(run_id, timeout=timeout)
