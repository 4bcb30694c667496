"""Exports as background jobs: a run (or one of its checkpoints) as a merged model, an adapter, or a GGUF
file with an Ollama Modelfile; optionally pushed to the Hugging Face or ModelScope hub.

Every export is written into a hidden ".partial" folder beside its destination and renamed into place
only when complete, so a failed, cancelled or disk-full export never looks finished; nothing that
exists is overwritten unless asked. Hub tokens are used for the push and never written to disk."""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError
from engine.export.card import model_card
from engine.export.check import (
    Reference,
    brief,
    check_export,
    differs_from_base,
    questions_for,
    reference_answers,
    save_check,
)
from engine.export.gguf_file import QUANTS, write_gguf
from engine.export.kquants import K_QUANTS, need_llama_cpp, quantize
from engine.export.merge import adapter_only, describe, merged_model
from engine.hub.clients import HubAccess, check_repo_id, hub_error
from engine.inference.sides import SidePlan, plan_side
from engine.jobs import JobContext, JobRegistry
from engine.runs.lineage import record_export
from engine.text.message import say

FORMATS = ("merged", "adapter", "gguf")
CHATML_OLLAMA = ('{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}'
                 '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
                 '<|im_start|>assistant\n')


@dataclass
class ExportRequest:
    run_id: str
    format: str = "gguf"  # merged | adapter | gguf
    checkpoint: str = ""  # "" = the final model
    quant: str = "q8_0"  # GGUF: f16 | bf16 | q8_0, or a k-quant (q4_k_m, …) with llama-cpp-python
    shard_size: str = "2GB"  # merged: safetensors shard size
    destination: str = ""  # "" = <run>/export/<format>
    overwrite: bool = False
    hub_repo: str = ""  # push the export to this repo id
    hub: str = "hf"  # hf | modelscope
    private: bool = True
    verify: bool = True  # merged / GGUF: read the export back and compare it with the run's own model


class _Verification:
    """What the check needs from the writing: the run's reference answers (taken before the merge) and
    whether the merged weights differ from the base's (compared while the merged folder exists)."""

    def __init__(self, questions: list[str]) -> None:
        self.questions = questions
        self.reference: Reference | None = None
        self.base_differs: bool | None = None
        self.base = ""  # the base model's folder, to compare a merged export with it again later

    def take(self, model: Any, tok: Any) -> None:
        self.reference = reference_answers(model, tok, self.questions)

    def compare_base(self, merged: Path, plan: SidePlan) -> None:
        self.base = plan.resolve_base()
        self.base_differs = differs_from_base(merged, Path(self.base))


class ExportManager:
    def __init__(self, manager: Any, jobs: JobRegistry | None = None):
        self.manager = manager
        self.jobs = jobs or JobRegistry()

    def start(self, request: ExportRequest, token: str = "") -> str:
        plan, target = self._check(request, token)
        meta = {k: v for k, v in asdict(request).items()}
        return self.jobs.start("export", lambda ctx: self.run(request, token, ctx, plan, target), meta=meta)

    def run(self, request: ExportRequest, token: str = "", ctx: JobContext | None = None,
            plan: SidePlan | None = None, target: Path | None = None) -> dict[str, Any]:
        if plan is None or target is None:
            plan, target = self._check(request, token)
        progress = ctx.progress if ctx else (lambda f, m="": None)
        partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        started = time.time()
        run = self.manager.run(request.run_id)
        quant = request.quant if request.format == "gguf" else None
        verify = _Verification(questions_for(run)) if request.verify and request.format != "adapter" else None
        try:
            result = self._write(request, plan, partial, lambda f, m: progress(f * (0.85 if verify else 1), m),
                                 verify)
            if verify and verify.reference:
                check = check_export(partial, request.format, quant, verify.reference, verify.base_differs,
                                     lambda f, m: progress(0.85 + f * 0.1, m))
                result["check"] = brief(save_check(partial, request.format, quant, verify.reference, check,
                                                   verify.base))
            (partial / "README.md").write_text(model_card(run, request.format, quant, result.get("check")),
                                               encoding="utf-8")
            if target.exists():  # overwrite was asked for (checked before starting)
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(partial, target)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
                free = shutil.disk_usage(target.parent).free / 2**30
                raise ModelError(f"disk full while exporting to {target.parent} ({free:.2f} GiB free): free some "
                                 "space or choose another destination; nothing partial was kept") from exc
            raise
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        result.update(describe(target), format=request.format, seconds=round(time.time() - started, 1))
        if result.get("gguf"):
            result["gguf"] = str(target / Path(result["gguf"]).name)
        if request.hub_repo:
            progress(0.95, f"pushing to {request.hub_repo}…")
            result["pushed"] = push(target, request.hub_repo, token, request.private, request.hub)
        record_export(run, target, result, asdict(request))
        return result

    # ---- pieces ----------------------------------------------------------------------------------

    def _check(self, request: ExportRequest, token: str) -> tuple[SidePlan, Path]:
        if request.format not in FORMATS:
            raise ModelError(f"export format '{request.format}': choose {', '.join(FORMATS)}")
        if request.format == "gguf" and request.quant not in (*QUANTS, *K_QUANTS):
            raise ModelError(f"GGUF quantization '{request.quant}': choose {', '.join((*QUANTS, *K_QUANTS))}")
        if request.format == "gguf":
            need_llama_cpp(request.quant)
        run = self.manager.run(request.run_id)
        spec = f"run:{request.run_id}" + (f"@{request.checkpoint}" if request.checkpoint else "")
        plan = plan_side(spec, self.manager)
        name = {"gguf": f"gguf-{request.quant}"}.get(request.format, request.format)
        if request.checkpoint:
            name += f"-{request.checkpoint}"
        target = Path(request.destination).expanduser() if request.destination else run.path / "export" / name
        if target.exists() and not request.overwrite:
            raise ModelError(f"{target} already exists: tick overwrite to replace it, or choose another destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        if request.hub_repo:
            _check_push(request.hub_repo, token, request.hub)
        return plan, target

    def _write(self, request: ExportRequest, plan: SidePlan, folder: Path, progress: Any,
               verify: _Verification | None) -> dict[str, Any]:
        if request.format == "adapter":
            progress(0.5, "copying the adapter…")
            below = adapter_only(plan, folder)
            return {"below": below, "note": say("export.stacked", count=len(below), folders=", ".join(below))
                    .to_dict()} if below else {}
        take = verify.take if verify else None
        if request.format == "merged":
            merged_model(plan, folder, request.shard_size, progress, take)
            if verify:
                verify.compare_base(folder, plan)
            return {}
        merged = folder / ".merged"
        merged_model(plan, merged, "50GB", lambda f, m: progress(f * 0.4, m), take)
        if verify:
            verify.compare_base(merged, plan)
        stem = f"{request.run_id}-{request.quant}"
        gguf_path = folder / f"{stem}.gguf"
        if request.quant in K_QUANTS:  # llama.cpp quantizes TuneDesk's f16 file
            f16 = folder / f".{stem}-f16.gguf"
            info = write_gguf(merged, f16, "f16", name=stem, progress=lambda f, m: progress(0.4 + f * 0.35, m))
            progress(0.8, f"quantizing to {request.quant.upper()} with llama.cpp…")
            quantize(f16, gguf_path, request.quant)
            f16.unlink()
        else:
            info = write_gguf(merged, gguf_path, request.quant, name=stem,
                              progress=lambda f, m: progress(0.4 + f * 0.55, m))
        # the reference already holds the tokens the run's model stops on; without a check, read them
        stops = verify.reference.stop_tokens if verify and verify.reference else _stop_tokens(merged)
        shutil.rmtree(merged)
        (folder / "Modelfile").write_text(modelfile(gguf_path.name, info["chat_template"], stops), encoding="utf-8")
        return {"gguf": str(gguf_path), "architecture": info["architecture"], "quant": request.quant}


def _stop_tokens(folder: Path) -> list[str]:
    """Every token the app stops an answer on (the tokenizer's end, the generation config's, end-of-turn
    markers): an Ollama Modelfile that misses one runs past the end of the answer."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer, GenerationConfig

    from engine.inference.decode import stop_ids

    tok = AutoTokenizer.from_pretrained(folder)
    try:
        generation = GenerationConfig.from_pretrained(folder)
    except OSError:
        generation = None
    return tok.convert_ids_to_tokens(stop_ids(tok, SimpleNamespace(generation_config=generation)))


def modelfile(gguf_name: str, has_template: bool, stops: list[str]) -> str:
    """An Ollama Modelfile: `ollama create NAME -f Modelfile`, then `ollama run NAME`."""
    lines = ["# Ollama: ollama create my-model -f Modelfile && ollama run my-model",
             "# llama.cpp: llama-cli -m " + gguf_name + " -cnv", f"FROM ./{gguf_name}"]
    if "<|im_end|>" in stops:
        lines.append(f'TEMPLATE """{CHATML_OLLAMA}"""')  # ChatML: Ollama's own Go template of it
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    if not has_template:
        lines.insert(2, "# (no chat template in the model: Ollama will treat input as plain text)")
    return "\n".join(lines) + "\n"


def _check_push(repo: str, token: str, hub: str) -> None:
    check_repo_id(repo)
    if not token.strip():
        raise ModelError(f"pushing to {repo} needs an access token with write permission (it is used for this "
                         "push only and never saved)")
    HubAccess(hub).probe()  # offline: a clear error within seconds, before any export work


def push(folder: Path, repo: str, token: str, private: bool, hub: str) -> str:
    access = HubAccess(hub, "", token)
    try:
        if hub == "hf":
            from huggingface_hub import HfApi

            api = HfApi(endpoint=access.url, token=token)
            api.create_repo(repo, private=private, exist_ok=True)
            api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="Upload from TuneDesk")
        else:
            from modelscope_hub import HubApi

            api = HubApi(endpoint=access.url, token=token)
            api.create_repo(repo, "model", visibility="private" if private else "public", exist_ok=True)
            api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="Upload from TuneDesk")
    except Exception as exc:
        raise hub_error(access, repo, exc) from exc
    return f"{access.url}/{repo}"
