"""The export round-trip check: what was written, read back the way users' tools read it, answers as the
run's own model does.

Before the merge, the run's model (base + adapter, unmerged, fp32: what Compare Chat runs) answers a few
prompts greedily; those answers are the reference, saved with the check so it can be run again from disk.
The export is then loaded on its own — plain transformers for a merged folder; llama.cpp for a GGUF file
where `llama-cpp-python` is installed, else transformers' GGUF reader — and scored teacher-forced on each
reference answer: where its greedy choice first differs from the run's is where a greedy answer would
first differ. A GGUF file's embedded chat template must equal the tokenizer's, every token that ends a turn
must be among its Modelfile's stops, and a merged model must not equal its base (an adapter merged into
nothing leaves the base's weights). A failed check keeps the export and names what differed."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ModelError, TuneDeskError
from engine.evaluation.questions import split_questions
from engine.export.kquants import available as llama_cpp_installed
from engine.inference.decode import Sampling, chat_prompt, generate_batch, stop_ids
from engine.models.gguf_read import parsed_once

CHECK_FILE = "export_check.json"
PROMPTS = 5
ANSWER_TOKENS = 24
BUILT_IN = ("What is the capital of France?", "Write one sentence about the sea.", "What is 12 + 30?",
            "用一句话介绍你自己。", "Name three colours.")
# the share of reference tokens a format must choose as the run does: merged is exact in fp32; the
# lower-precision files round every weight, and near-ties in the logits may flip the odd token
AGREEMENT = {"merged": 1.0, "f16": 0.9, "bf16": 0.85, "q8_0": 0.8, "q6_k": 0.7, "q5_k_m": 0.6, "q5_k_s": 0.6,
             "q4_k_m": 0.5, "q4_k_s": 0.5}
LOW_BITS_AGREEMENT = 0.3


@dataclass
class Reference:
    """The run's own greedy answers: prompt and answer token ids, the tokens that end a turn, the chat
    template the tokenizer renders with."""

    questions: list[str]
    prompts: list[list[int]]
    answers: list[list[int]]
    stop_tokens: list[str]
    chat_template: str


@dataclass
class CheckResult:
    ok: bool
    reader: str
    prompts: int
    identical: int
    agreement: float  # the share of reference tokens the export chose as the run did
    divergences: list[dict[str, Any]] = field(default_factory=list)  # prompt, position, expected, got
    problems: list[str] = field(default_factory=list)
    template_ok: bool | None = None
    stops_ok: bool | None = None
    differs_from_base: bool | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        head = f"verified: {self.identical}/{self.prompts} identical" if self.ok else "check failed"
        return head + ("" if self.ok and not self.problems else f" — {'; '.join(self.problems)}")


def questions_for(run: Any, limit: int = PROMPTS) -> list[str]:
    """The run's validation (or test) prompts where it has them, else built-in ones in both languages."""
    try:
        found = [q.question for q in split_questions(run, "auto", limit=limit)]
    except (TuneDeskError, OSError, ValueError):
        found = []
    return (found + [q for q in BUILT_IN if q not in found])[:limit]


def reference_answers(model: Any, tok: Any, questions: Sequence[str], max_new_tokens: int = ANSWER_TOKENS
                      ) -> Reference:
    stops = stop_ids(tok, model)
    prompts = [chat_prompt(tok, [{"role": "user", "content": q}]) for q in questions]
    out = generate_batch(model, tok, prompts, Sampling(max_new_tokens=max_new_tokens), stops)
    width = max(len(p) for p in prompts)
    answers = []
    for row in out[:, width:].tolist():
        end = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))  # the stop is checked too
        answers.append(row[:end])
    return Reference(list(questions), prompts, answers, tok.convert_ids_to_tokens(stops),
                     tok.chat_template or "")


def agreement(next_tokens: Callable[[list[int]], list[int]], reference: Reference) -> tuple[int, int, float,
                                                                                              list[dict[str, Any]]]:
    """Teacher-forced on each reference answer: `next_tokens(ids)` gives the greedy choice after every
    position. Returns (identical answers, prompts, agreement, the first divergence of each answer that has one)."""
    matched = total = identical = 0
    divergences = []
    for n, (prompt, answer) in enumerate(zip(reference.prompts, reference.answers, strict=True)):
        chosen = next_tokens(prompt + answer)[len(prompt) - 1:len(prompt) - 1 + len(answer)]
        same = [a == b for a, b in zip(answer, chosen, strict=True)]
        matched, total = matched + sum(same), total + len(answer)
        if all(same):
            identical += 1
        else:
            position = same.index(False)
            divergences.append({"prompt": n + 1, "position": position, "expected": answer[position],
                                "got": chosen[position]})
    return identical, len(reference.answers), matched / max(total, 1), divergences


# ---- readers: each returns next_tokens(ids) and, for GGUF, the embedded chat template ---------------------

def transformers_reader(folder: Path, gguf_file: str = "") -> tuple[Callable[[list[int]], list[int]], str | None]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = {"gguf_file": gguf_file} if gguf_file else {}
    with parsed_once():
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **extra)
        template = AutoTokenizer.from_pretrained(folder, **extra).chat_template if gguf_file else None
    model.eval()

    def next_tokens(ids: list[int]) -> list[int]:
        with torch.inference_mode():
            return model(torch.tensor([ids])).logits[0].argmax(-1).tolist()

    return next_tokens, template


def llama_cpp_reader(gguf_path: Path, context: int) -> tuple[Callable[[list[int]], list[int]], str | None]:
    import llama_cpp

    llm = llama_cpp.Llama(str(gguf_path), n_ctx=max(context, 64), logits_all=True, verbose=False, n_threads=2)

    def next_tokens(ids: list[int]) -> list[int]:
        llm.reset()
        llm.eval(ids)
        return llm.scores[:len(ids)].argmax(-1).tolist()

    return next_tokens, llm.metadata.get("tokenizer.chat_template")


# ---- the checks --------------------------------------------------------------------------------------------

def modelfile_stops(modelfile: Path) -> list[str]:
    text = modelfile.read_text(encoding="utf-8") if modelfile.is_file() else ""
    return re.findall(r'^PARAMETER stop "(.*)"$', text, flags=re.M)


def differs_from_base(folder: Path, base: Path) -> bool | None:
    """Whether any weight the two folders share differs; None where either has no safetensors to compare."""
    from safetensors import safe_open

    ours, theirs = sorted(folder.glob("*.safetensors")), sorted(base.glob("*.safetensors"))
    if not ours or not theirs:
        return None
    with contextlib.ExitStack() as files:  # each file opened once; tensors read one pair at a time
        where = {}
        for file in theirs:
            handle = files.enter_context(safe_open(str(file), "pt"))
            where.update(dict.fromkeys(handle.keys(), handle))
        compared = False
        for file in ours:
            handle = files.enter_context(safe_open(str(file), "pt"))
            for name in [n for n in handle.keys() if n in where]:  # noqa: SIM118 (a safetensors handle, not a dict)
                a, b = handle.get_tensor(name), where[name].get_tensor(name)
                compared = True
                if a.shape != b.shape or not a.float().equal(b.float()):
                    return True
    return False if compared else None


def check_export(folder: Path, fmt: str, quant: str | None, reference: Reference, base_differs: bool | None,
                 progress: Callable[[float, str], None] | None = None) -> CheckResult:
    """Load the export in `folder` the way users' tools do and compare it with the run's reference. A
    reader that cannot load the file (transformers' GGUF reader knows fewer shapes than llama.cpp) leaves
    the export not verified, with the reason."""
    try:
        return _check(folder, fmt, quant, reference, base_differs, progress or (lambda f, m: None))
    except (OSError, ValueError, RuntimeError, KeyError, ImportError) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return CheckResult(ok=False, reader="none", prompts=0, identical=0, agreement=0.0,
                           problems=[f"not verified: the check could not read the export back ({reason})"],
                           differs_from_base=base_differs)


def _check(folder: Path, fmt: str, quant: str | None, reference: Reference, base_differs: bool | None,
           progress: Callable[[float, str], None]) -> CheckResult:
    started = time.time()
    problems: list[str] = []
    template_ok = stops_ok = None
    if fmt == "gguf":
        [gguf_path] = sorted(folder.glob("*.gguf"))
        context = max(len(p) + len(a) for p, a in zip(reference.prompts, reference.answers, strict=True)) + 8
        if llama_cpp_installed():
            progress(0.1, "checking the GGUF file in llama.cpp…")
            reader, (next_tokens, template) = "llama.cpp", llama_cpp_reader(gguf_path, context)
        else:
            progress(0.1, "checking the GGUF file with transformers' GGUF reader…")
            reader, (next_tokens, template) = "transformers-gguf", transformers_reader(folder, gguf_path.name)
        template_ok = (template or "") == reference.chat_template
        if not template_ok:
            problems.append("the chat template embedded in the GGUF file is missing" if not template else
                            "the chat template embedded in the GGUF file differs from the tokenizer's")
        stops = modelfile_stops(folder / "Modelfile")
        missing = [s for s in reference.stop_tokens if s not in stops]
        stops_ok = not missing
        if missing:
            problems.append(f"the Modelfile does not stop on {', '.join(missing)}: Ollama would run past the "
                            "end of each answer")
    else:
        progress(0.1, "checking the merged model with transformers…")
        reader, (next_tokens, _) = "transformers", transformers_reader(folder)
    if base_differs is False:
        problems.append("the exported weights equal the base model's: the adapter was not merged in")
    progress(0.5, "asking the export the reference prompts…")
    identical, prompts, share, divergences = agreement(next_tokens, reference)
    floor = AGREEMENT.get(quant or fmt, LOW_BITS_AGREEMENT)
    if share < floor:
        problems.append(f"it chose the run's token at {share:.0%} of positions (at least {floor:.0%} expected "
                        f"for {quant or fmt}); {len(divergences)} of {prompts} answers differ, the first at token "
                        f"{divergences[0]['position'] + 1} of prompt {divergences[0]['prompt']}")
    elif divergences:  # within what the format's rounding explains: said, not failed
        first = divergences[0]
        problems.append(f"{len(divergences)} of {prompts} answers differ after rounding (prompt {first['prompt']} "
                        f"from token {first['position'] + 1})")
    failed = share < floor or template_ok is False or stops_ok is False or base_differs is False
    return CheckResult(ok=not failed, reader=reader, prompts=prompts, identical=identical, agreement=round(share, 4),
                       divergences=divergences, problems=problems, template_ok=template_ok, stops_ok=stops_ok,
                       differs_from_base=base_differs, seconds=round(time.time() - started, 2))


def save_check(folder: Path, fmt: str, quant: str | None, reference: Reference, result: CheckResult,
               base: str = "") -> dict[str, Any]:
    record = {"format": fmt, "quant": quant, **asdict(result), "summary": result.summary, "base": base,
              "reference": asdict(reference)}
    (folder / CHECK_FILE).write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    return {k: v for k, v in record.items() if k != "reference"}


def brief(check: dict[str, Any]) -> dict[str, Any]:
    """The check as the lineage, the model card and export_status carry it (details in export_check.json)."""
    keys = ("ok", "summary", "problems", "reader", "identical", "prompts", "agreement", "template_ok", "stops_ok",
            "differs_from_base", "seconds")
    return {key: check[key] for key in keys}


def recheck(folder: Path) -> dict[str, Any]:
    """Run an export's check again from what it saved: after copying the export, or to see a change caught."""
    try:
        saved = json.loads((folder / CHECK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder} has no readable {CHECK_FILE}: it was not exported by TuneDesk with its "
                         "check, or the file was removed") from exc
    reference, base = Reference(**saved["reference"]), saved.get("base") or ""
    # a merged folder is compared with its base again where the base is still there; a GGUF file keeps
    # what was found when it was written (its tensors are renamed and rounded)
    fresh = differs_from_base(folder, Path(base)) if base and Path(base).is_dir() else None
    result = check_export(folder, saved["format"], saved["quant"], reference,
                          fresh if fresh is not None else saved.get("differs_from_base"))
    return save_check(folder, saved["format"], saved["quant"], reference, result, base)
