"""Shared fixtures: tiny real models built on the spot, sample data, and run helpers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
QWEN3_TOKENIZER = SHARED / "models" / "qwen3-tokenizer"
SHARED_DATA = SHARED / "data"
ARTIFACTS = ROOT / "test-artifacts"

sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared (datasets, Qwen3 tokenizer) not present")

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_small_tokenizer(folder: Path) -> None:
    """A byte-level BPE with ChatML specials, trained here: the fallback where ../shared is absent."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [json.dumps(r, ensure_ascii=False) for r in json.loads((ROOT / "samples/identity.json").read_text())]
    corpus += ["The quick brown fox jumps over the lazy dog. user assistant system tool 0123456789"] * 5
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None)
    fast.chat_template = CHATML
    fast.save_pretrained(folder)


def build_tiny_model(folder: Path, tokenizer_source: Path | None) -> Path:
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    if tokenizer_source is not None:
        tok = AutoTokenizer.from_pretrained(tokenizer_source)
        tok.save_pretrained(folder)
    else:
        train_small_tokenizer(folder)
        tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    Qwen3ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init 2-layer Qwen3 with the real Qwen3 tokenizer (or a small trained one without ../shared)."""
    source = QWEN3_TOKENIZER if QWEN3_TOKENIZER.exists() else None
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen3"), source)


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
    from engine.config import TrainConfig

    return TrainConfig.from_dict({"dataset": str(dataset), **kw})


def tiny_config(model: Path, dataset: Path | str, outputs: Path, **overrides: object):
    from engine.config import TrainConfig

    base = {"model_name_or_path": str(model), "dataset": str(dataset), "output_dir": str(outputs),
            "max_steps": 6, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3, "warmup_ratio": 0.0, "lr_scheduler_type": "constant", "logging_steps": 1,
            "save_steps": 100, "max_seq_length": 128, "lora_dropout": 0.0, "seed": 1}
    return TrainConfig.from_dict({**base, **overrides})


def run_to_end(config, outputs: Path, timeout: float = 300):
    from engine.runs import RunManager

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
