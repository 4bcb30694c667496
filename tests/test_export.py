"""Exports of real (tiny) LoRA runs: the merged model gives the same logits as base + adapter and reloads
in a fresh process; the GGUF written with the gguf package is read back by transformers' own GGUF loader
with the same logits and the same tokenizer; Llama (q/k permuted) and Qwen3; nothing overwritten,
nothing partial left, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.errors import HubUnreachable, ModelError
from engine.export.check import AGREEMENT, llama_cpp_installed, recheck
from engine.export.exporter import ExportManager, ExportRequest
from engine.models.gguf_read import parsed_once
from tests.conftest import QWEN3_TOKENIZER, ROOT, run_to_end, tiny_config

PROMPT = "Hello world! 你好，世界。<|im_start|>user\nSay the number 3.<|im_end|>\n<|im_start|>assistant\n"


def tiny_arch(folder: Path, tokenizer: Path, arch: str) -> Path:
    """A random-init model of the architecture (head_dim 128 for Qwen3: what transformers' GGUF reader assumes)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer)
    torch.manual_seed(0)
    common = {"vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
              "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    model = (Qwen3ForCausalLM(Qwen3Config(**common, head_dim=128, tie_word_embeddings=True)) if arch == "qwen3"
             else LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=False)))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["llama", "qwen3"])
def run_of(request, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(f"export-{request.param}")
    base = tiny_arch(folder / "base", QWEN3_TOKENIZER, request.param)
    data = folder / "numbers.json"
    data.write_text(json.dumps([{"instruction": f"Say the number {i}.", "output": f"The number is {i}."}
                                for i in range(12)]), encoding="utf-8")
    config = tiny_config(base, data, folder / "outputs", max_steps=8, learning_rate=3e-2, save_steps=4, val_size=2)
    manager, run, state = run_to_end(config, folder / "outputs")
    assert state == "completed"
    return manager, run, base


def logits(model, tok) -> torch.Tensor:
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return model(ids).logits[0].float()


def adapted(base: Path, run) -> torch.nn.Module:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), run.final_path)


def test_merged_model_matches_base_plus_adapter_in_a_fresh_process(run_of, tmp_path: Path):
    manager, run, base = run_of
    # shards of a third of the weights: the export must cut the model into several files and index them
    shard_mb = max(1, (base / "model.safetensors").stat().st_size // 3 // 10**6)
    result = ExportManager(manager).run(ExportRequest(run.run_id, "merged", shard_size=f"{shard_mb}MB"))
    folder = Path(result["folder"])
    assert folder == run.path / "export" / "merged"
    assert len(list(folder.glob("*.safetensors"))) > 1 and (folder / "model.safetensors.index.json").is_file()
    assert (folder / "tokenizer.json").is_file() and (folder / "generation_config.json").is_file()
    # read back with plain transformers, the merged model answers the run's five prompts exactly as it does
    check = result["check"]
    assert check["ok"] and check["reader"] == "transformers" and check["identical"] == check["prompts"] == 5
    assert check["agreement"] == 1.0 and check["differs_from_base"] is True, check
    saved = json.loads((folder / "export_check.json").read_text())
    assert saved["reference"]["questions"][0].startswith("Say the number")  # the run's validation prompts first
    assert all(len(answer) > 0 for answer in saved["reference"]["answers"])
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run.final_path)
    expected = logits(adapted(base, run), tok)
    torch.save(expected, tmp_path / "expected.pt")
    check = ("import sys, torch; from transformers import AutoModelForCausalLM, AutoTokenizer;"
             "m = AutoModelForCausalLM.from_pretrained(sys.argv[1]); t = AutoTokenizer.from_pretrained(sys.argv[1]);"
             f"ids = t({PROMPT!r}, return_tensors='pt')['input_ids'];"
             "e = torch.load(sys.argv[2]);"
             "print('MAXDIFF', (m(ids).logits[0].float() - e).abs().max().item(), t.chat_template is not None)")
    out = subprocess.run([sys.executable, "-c", check, str(folder), str(tmp_path / "expected.pt")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    diff, template = out.stdout.split("MAXDIFF")[-1].split()
    assert float(diff) < 1e-3 and template == "True"


@pytest.fixture
def gguf_parsed_once():
    """The tests' own GGUF reads, parsed once as the export check parses them (engine/models/gguf_read.py)."""
    with parsed_once():
        yield


def test_gguf_reads_back_with_the_same_logits_and_tokenizer(run_of, gguf_parsed_once, monkeypatch):
    manager, run, base = run_of
    exporter = ExportManager(manager)
    f16 = exporter.run(ExportRequest(run.run_id, "gguf", quant="f16"))
    q8 = exporter.run(ExportRequest(run.run_id, "gguf", quant="q8_0"))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(run.final_path)
    expected = logits(adapted(base, run), tok)
    loaded = {}
    for result, tolerance in ((f16, 5e-3), (q8, 5e-2)):
        path = Path(result["gguf"])
        arch = json.loads((base / "config.json").read_text())["architectures"][0]
        assert path.is_file() and result["architecture"] == {"LlamaForCausalLM": "llama",
                                                             "Qwen3ForCausalLM": "qwen3"}[arch]
        model = loaded[result["quant"]] = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
        gtok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        for text in ("The quick brown fox.", "微调让模型学会新的身份。", PROMPT):
            assert gtok(text)["input_ids"] == tok(text)["input_ids"]  # English, Chinese, special tokens
        assert gtok.chat_template == tok.chat_template
        got = logits(model, gtok)
        assert (got - expected).abs().max().item() < tolerance, result["quant"]
        modelfile = (path.parent / "Modelfile").read_text()
        assert f"FROM ./{path.name}" in modelfile and 'PARAMETER stop "<|im_end|>"' in modelfile
        check = result["check"]  # the export checked itself, in llama.cpp where it is installed
        assert check["ok"] and check["template_ok"] and check["stops_ok"] and check["differs_from_base"], check
        assert check["reader"] == ("llama.cpp" if llama_cpp_installed() else "transformers-gguf")
        assert check["agreement"] >= AGREEMENT[result["quant"]], check
    assert Path(q8["gguf"]).stat().st_size < Path(f16["gguf"]).stat().st_size
    if llama_cpp_installed():  # the other reader, on the same file and the same reference
        monkeypatch.setattr("engine.export.check.llama_cpp_installed", lambda: False)
        again = recheck(Path(f16["folder"]))
        assert again["ok"] and again["reader"] == "transformers-gguf" and again["template_ok"], again
    # both GGUF files are in the run's lineage, named by their run and checkpoint, hashed as written
    import hashlib

    exports = {e["quant"]: e for e in json.loads((run.path / "lineage.json").read_text())["exports"]
               if e["format"] == "gguf"}
    for result in (f16, q8):
        entry = exports[result["quant"]]
        assert entry["checkpoint"] == "final" and entry["destination"] == str(Path(result["gguf"]).parent)
        written = {f["name"]: f["sha256"] for f in entry["files"]}
        assert written[Path(result["gguf"]).name] == hashlib.sha256(Path(result["gguf"]).read_bytes()).hexdigest()
        assert {"Modelfile", "README.md"} <= set(written)
    # greedy answers agree (f16) with the merged model's
    gguf_model = loaded["f16"]
    ids = tok.apply_chat_template([{"role": "user", "content": "Say the number 3."}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    a = adapted(base, run).generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    b = gguf_model.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    assert a.tolist() == b.tolist()


# what a check catches does not depend on the architecture (both are read back above): one is enough
@pytest.mark.parametrize("run_of", ["qwen3"], indirect=True)
def test_a_corrupted_export_fails_its_check_and_says_why(run_of, gguf_parsed_once, tmp_path: Path, monkeypatch):
    from safetensors.torch import load_file, save_file

    manager, run, base = run_of
    exporter = ExportManager(manager)
    merged = Path(exporter.run(ExportRequest(run.run_id, "merged", destination=str(tmp_path / "m")))["folder"])
    [weights] = merged.glob("*.safetensors")
    tensors = load_file(weights)
    good = dict(tensors)
    name = next(k for k in tensors if "layers.0.mlp.down_proj" in k)
    save_file({**tensors, name: tensors[name] * 8}, weights, metadata={"format": "pt"})  # a tensor scaled
    scaled = recheck(merged)
    assert not scaled["ok"] and "chose the run's token at" in scaled["summary"], scaled
    assert scaled["divergences"] and scaled["agreement"] < 1.0
    base_weights = {k: v for k, v in load_file(base / "model.safetensors").items() if k in good}
    save_file(base_weights, weights, metadata={"format": "pt"})  # the base's weights in place of the merged ones
    unmerged = recheck(merged)
    assert not unmerged["ok"] and unmerged["differs_from_base"] is False
    assert "equal the base model's: the adapter was not merged in" in unmerged["summary"]
    save_file(good, weights, metadata={"format": "pt"})
    assert recheck(merged)["ok"]  # put back as it was written: verified again

    gguf_folder = Path(exporter.run(ExportRequest(run.run_id, "gguf", quant="q8_0",
                                                  destination=str(tmp_path / "g")))["folder"])
    modelfile = gguf_folder / "Modelfile"
    modelfile.write_text(modelfile.read_text().replace('PARAMETER stop "<|im_end|>"\n', ""))  # a stop dropped
    dropped = recheck(gguf_folder)
    assert not dropped["ok"] and dropped["stops_ok"] is False and "does not stop on <|im_end|>" in dropped["summary"]

    import gguf  # a file written without its chat template

    monkeypatch.setattr(gguf.GGUFWriter, "add_chat_template", lambda self, value: None)
    result = exporter.run(ExportRequest(run.run_id, "gguf", quant="q8_0", destination=str(tmp_path / "t")))
    check = result["check"]
    assert not check["ok"] and check["template_ok"] is False, check
    assert "chat template embedded in the GGUF file is missing" in check["summary"]
    # kept, but marked: in its folder, in the run's lineage
    assert Path(result["gguf"]).is_file()
    [entry] = [e for e in json.loads((run.path / "lineage.json").read_text())["exports"]
               if e["destination"] == str(tmp_path / "t")]
    assert entry["check"]["ok"] is False and "chat template" in entry["check"]["summary"]


@pytest.mark.skipif(not llama_cpp_installed(), reason="k-quants are written by llama.cpp's quantizer: "
                    "pip install -r requirements-gguf.txt")
def test_q4_k_m_is_written_by_llama_cpp_and_checked_in_it(run_of, tmp_path: Path):
    import llama_cpp

    manager, run, _ = run_of
    exporter = ExportManager(manager)
    result = exporter.run(ExportRequest(run.run_id, "gguf", quant="q4_k_m", destination=str(tmp_path / "q4")))
    path = Path(result["gguf"])
    assert path.name.endswith("-q4_k_m.gguf") and not list(path.parent.glob(".*f16.gguf"))  # the f16 step removed
    llm = llama_cpp.Llama(str(path), n_ctx=64, verbose=False)
    assert llm.metadata["general.file_type"] == str(llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M)
    check = result["check"]
    assert check["ok"] and check["reader"] == "llama.cpp" and check["template_ok"] and check["stops_ok"], check


def test_k_quants_without_llama_cpp_name_the_install_command(run_of, monkeypatch):
    manager, run, _ = run_of
    monkeypatch.setattr("engine.export.kquants.available", lambda: False)
    with pytest.raises(ModelError, match=r"Q4_K_M .* needs llama-cpp-python: run `pip install -r requirements-gguf"):
        ExportManager(manager).run(ExportRequest(run.run_id, "gguf", quant="q4_k_m"))
    from tabs.export_panel import quant_choices

    assert ("q4_k_m（需要 llama-cpp-python）", "q4_k_m") in quant_choices("zh")


def test_nothing_is_overwritten_or_left_half_written(run_of, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    manager, run, _ = run_of
    exporter = ExportManager(manager)
    dest = tmp_path / "adapter-out"
    first = exporter.run(ExportRequest(run.run_id, "adapter", destination=str(dest)))
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= set(first["files"])
    with pytest.raises(ModelError, match="already exists: tick overwrite"):
        exporter.run(ExportRequest(run.run_id, "adapter", destination=str(dest)))
    exporter.run(ExportRequest(run.run_id, "adapter", destination=str(dest), overwrite=True))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.export.exporter.write_gguf", broken)
    target = tmp_path / "gguf-out"
    with pytest.raises(ModelError, match="disk full"):
        exporter.run(ExportRequest(run.run_id, "gguf", destination=str(target)))
    assert not target.exists() and not list(tmp_path.glob(".gguf-out.partial*"))


def test_bad_export_requests_are_explained(run_of, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    manager, run, _ = run_of
    exporter = ExportManager(manager)
    with pytest.raises(ModelError, match="choose merged, adapter, gguf"):
        exporter.run(ExportRequest(run.run_id, "onnx"))
    with pytest.raises(ModelError, match="choose f16, bf16, q8_0"):
        exporter.run(ExportRequest(run.run_id, "gguf", quant="q4_k"))
    with pytest.raises(ModelError, match="has no checkpoint-99"):
        exporter.run(ExportRequest(run.run_id, "merged", checkpoint="checkpoint-99"))
    with pytest.raises(ModelError, match="needs an access token"):
        exporter.run(ExportRequest(run.run_id, "adapter", destination=str(tmp_path / "a"), hub_repo="me/x"))
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.time()
    with pytest.raises(HubUnreachable, match="cannot reach Hugging Face"):
        exporter.run(ExportRequest(run.run_id, "adapter", destination=str(tmp_path / "b"), hub_repo="me/x"),
                     token="hf_x")
    assert time.time() - started < 15 and not (tmp_path / "b").exists()
    # the run's base model has gone missing
    text = run.config_path.read_text()
    run.config_path.write_text(text.replace(str(run.config().model_name_or_path), str(tmp_path / "gone")))
    try:
        with pytest.raises(ModelError, match="base model .* cannot be found"):
            exporter.run(ExportRequest(run.run_id, "merged", destination=str(tmp_path / "c")))
    finally:
        run.config_path.write_text(text)
    assert not (tmp_path / "c").exists()


def test_unsupported_architectures_are_named(tmp_path: Path):
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.export.gguf_file import write_gguf

    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=100)).save_pretrained(folder)
    with pytest.raises(ModelError, match="does not support GPT2LMHeadModel.*LlamaForCausalLM.*Qwen3ForCausalLM"):
        write_gguf(folder, tmp_path / "x.gguf")


@pytest.mark.parametrize("run_of", ["llama"], indirect=True)
def test_the_cli_exports(run_of, tmp_path: Path):
    manager, run, _ = run_of
    out = subprocess.run([sys.executable, "-m", "engine", "export", run.run_id, "--format", "gguf", "--quant", "q8_0",
                          "--dest", str(tmp_path / "cli"), "--outputs", str(manager.outputs)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert list((tmp_path / "cli").glob("*-q8_0.gguf")) and (tmp_path / "cli" / "Modelfile").is_file()
    assert json.loads(out.stdout[out.stdout.index("\n{") + 1:])["check"]["ok"]
    modelfile = tmp_path / "cli" / "Modelfile"
    modelfile.write_text(modelfile.read_text().replace('PARAMETER stop "<|endoftext|>"\n', ""))
    again = subprocess.run([sys.executable, "-m", "engine", "export-check", str(tmp_path / "cli"), "--outputs",
                            str(manager.outputs)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "does not stop on <|endoftext|>" in again.stdout, again.stdout[-2000:]
