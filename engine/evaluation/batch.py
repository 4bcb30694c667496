"""The batch comparison: "did it help — and did it hurt?".

Both sides answer every question (greedy, so the report is reproducible). Where a question has a
reference, each answer gets BLEU-4 and ROUGE-L and each side its perplexity on the reference. The
general question set TuneDesk ships measures what fine-tuning may have cost: general questions answered
right per side, and how many answers leak what the run was trained to say (its signature words, found
in the training answers and absent from the base model's own answers). Runs as a background job; the
report is saved in the run directory (comparison.json / comparison.csv) and shown with the run."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.data.formats import Conversation
from engine.data.prepare import read_samples
from engine.errors import DataError, ModelError
from engine.evaluation.metrics import bleu4, rouge_l, words
from engine.evaluation.questions import GENERAL_SET, Question, load_questions, right, split_questions
from engine.inference.decode import Sampling
from engine.inference.generate import answer, reference_nll
from engine.inference.pool import POOL, ModelPool, Side
from engine.inference.sides import plan_side
from engine.jobs import JobContext, JobRegistry
from engine.runs.rundir import write_json_atomic

BATCH = 16  # questions per generate call (each is two rows: left and right)


@dataclass
class CompareRequest:
    left: str
    right: str
    questions: str = ""  # a questions file; "" = the run's validation/test split
    split: str = "auto"
    general: bool = True  # also run the general set (forgetting)
    max_new_tokens: int = 128
    limit: int = 200
    system: str = ""


class BatchComparer:
    def __init__(self, manager: Any, jobs: JobRegistry | None = None, pool: ModelPool = POOL):
        self.manager, self.pool = manager, pool
        self.jobs = jobs or JobRegistry()

    def start(self, request: CompareRequest) -> str:
        self._check(request)
        return self.jobs.start("compare", lambda ctx: self.run(request, ctx), meta=asdict(request))

    def run(self, request: CompareRequest, ctx: JobContext | None = None) -> dict[str, Any]:
        progress = ctx.progress if ctx else (lambda f, m="": None)
        plans = [plan_side(request.left, self.manager), plan_side(request.right, self.manager)]
        progress(0.01, "loading the models…")
        sides = self.pool.sides(plans)
        task = self._task_questions(request)
        general = load_questions(GENERAL_SET) if request.general else []
        total = len(task) + len(general)
        if not total:
            raise DataError("nothing to compare: give a questions file or tick the general questions")
        sampling = Sampling(max_new_tokens=int(request.max_new_tokens))
        rows: list[dict[str, Any]] = []
        for kind, questions in (("task", task), ("general", general)):
            for start in range(0, len(questions), BATCH):
                chunk = questions[start:start + BATCH]
                rows += self._answer(sides, chunk, kind, sampling, request.system)
                progress(len(rows) / total, f"{len(rows)} / {total} questions answered")
        report = summarise(rows, sides, self._training_answers(plans))
        report.update(left=plans[0].label, right=plans[1].label, left_spec=plans[0].spec, right_spec=plans[1].spec,
                      questions=request.questions or f"{request.split} split", created_at=time.time())
        report["saved"] = self._save(report, plans)
        return report

    # ---- pieces ----------------------------------------------------------------------------------

    def _check(self, request: CompareRequest) -> None:
        plan_side(request.left, self.manager)
        plan_side(request.right, self.manager)
        if request.questions and not Path(request.questions).expanduser().is_file():
            raise DataError(f"questions file {request.questions} not found")
        if not 1 <= int(request.max_new_tokens) <= 2048:
            raise ModelError("max new tokens: choose 1 to 2048")

    def _task_questions(self, request: CompareRequest) -> list[Question]:
        if request.questions:
            return load_questions(request.questions, request.limit)
        run = self._run_of(request)
        if run is None:
            return []
        try:
            return split_questions(run, request.split, request.limit)
        except DataError:
            if request.general:
                return []  # no split: the general half still says whether it hurt
            raise

    def _run_of(self, request: CompareRequest) -> Any:
        """The tuned side's run (the right one, else the left one), or None for base against base."""
        for spec in (request.right, request.left):
            run_id = plan_side(spec, self.manager).run_id
            if run_id:
                return self.manager.run(run_id)
        return None

    def _answer(self, sides: list[Side], chunk: list[Question], kind: str, sampling: Sampling, system: str
                ) -> list[dict[str, Any]]:
        row_sides, convs, refs = [], [], []
        for q in chunk:
            sys_text = q.system or system
            conv = ([{"role": "system", "content": sys_text}] if sys_text else []) + [
                {"role": "user", "content": q.question}]
            for side in sides:
                row_sides.append(side)
                convs.append(conv)
                refs.append(q.reference)
        answers = answer(row_sides, convs, sampling)
        nll = reference_nll(row_sides, convs, refs) if any(refs) else [None] * len(refs)
        out = []
        for i, q in enumerate(chunk):
            left, right_ = answers[2 * i].strip(), answers[2 * i + 1].strip()
            row: dict[str, Any] = {"kind": kind, "question": q.question, "reference": q.reference,
                                   "left_answer": left, "right_answer": right_}
            if q.reference:
                row.update(left_bleu4=round(bleu4(left, q.reference), 2),
                           right_bleu4=round(bleu4(right_, q.reference), 2),
                           left_rougeL=round(rouge_l(left, q.reference), 4),
                           right_rougeL=round(rouge_l(right_, q.reference), 4),
                           left_nll=nll[2 * i], right_nll=nll[2 * i + 1])
            if q.facts:
                row.update(facts=q.facts, left_right=right(left, q.facts), right_right=right(right_, q.facts))
            out.append(row)
        return out

    def _training_answers(self, plans: list[Any]) -> list[str]:
        """The assistant answers a run trained on (the tuned side's run), for its signature words."""

        for plan in reversed(plans):
            if plan.run_id:
                run = self.manager.run(plan.run_id)
                try:
                    normalized, _ = read_samples(run.config())
                except Exception:  # the training data moved: the report goes on without leak figures
                    return []
                return [m.get("content") or "" for s in normalized.samples if isinstance(s, Conversation)
                        for m in s.messages if m.get("role") == "assistant" and isinstance(m.get("content"), str)]
        return []

    def _save(self, report: dict[str, Any], plans: list[Any]) -> dict[str, str]:
        import pandas as pd

        run_id = next((plan.run_id for plan in reversed(plans) if plan.run_id), "")
        folder = self.manager.run(run_id).path if run_id else None
        if folder is None:
            folder = self.manager.outputs / "comparisons" / time.strftime("%Y%m%d-%H%M%S")
            folder.mkdir(parents=True, exist_ok=True)
        json_path, csv_path = folder / "comparison.json", folder / "comparison.csv"
        write_json_atomic(json_path, report)
        tmp = csv_path.with_suffix(".csv.tmp")
        pd.DataFrame(report["rows"]).to_csv(tmp, index=False, encoding="utf-8-sig")  # BOM: Excel reads Chinese
        tmp.replace(csv_path)
        return {"json": str(json_path), "csv": str(csv_path)}


def signature_terms(train_answers: list[str], base_answers: list[str], top: int = 12) -> list[str]:
    """Words in at least a quarter of the training answers that the base model never says on its own
    (5+ letters, or 3+ Chinese characters)."""
    if not train_answers:
        return []
    docs: Counter[str] = Counter()
    for text in train_answers:
        # short words are too common to be anyone's signature: 5+ letters, or 3+ Chinese characters
        docs.update({w for w in words(text) if len(w) >= (5 if w.isascii() else 3)})
    base_words = {w for text in base_answers for w in words(text)}
    common = [w for w, n in docs.most_common() if n >= max(2, len(train_answers) / 4) and w not in base_words]
    return common[:top]


def summarise(rows: list[dict[str, Any]], sides: list[Side], train_answers: list[str]) -> dict[str, Any]:
    def mean(values: list[float]) -> float | None:
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 4) if values else None

    task = [r for r in rows if r["kind"] == "task"]
    scored = [r for r in task if r.get("reference")]
    summary: dict[str, Any] = {"task_questions": len(task), "with_reference": len(scored)}
    for side in ("left", "right"):
        summary[f"{side}_bleu4"] = mean([r[f"{side}_bleu4"] for r in scored])
        summary[f"{side}_rougeL"] = mean([r[f"{side}_rougeL"] for r in scored])
        nll = mean([r.get(f"{side}_nll") for r in scored])
        summary[f"{side}_perplexity"] = round(math.exp(nll), 3) if nll is not None else None
    for metric in ("bleu4", "rougeL", "perplexity"):
        a, b = summary[f"left_{metric}"], summary[f"right_{metric}"]
        summary[f"diff_{metric}"] = round(b - a, 4) if a is not None and b is not None else None
    task_facts = [r for r in task if "facts" in r]
    if task_facts:
        summary["task_right"] = {"left": sum(r["left_right"] for r in task_facts),
                                 "right": sum(r["right_right"] for r in task_facts), "of": len(task_facts)}
    general = [r for r in rows if r["kind"] == "general"]
    if general:
        summary["general_right"] = {"left": sum(r["left_right"] for r in general),
                                    "right": sum(r["right_right"] for r in general), "of": len(general)}
        base_side = "left" if sides[0].plan.spec.startswith("base:") or not sides[1].plan.spec.startswith("base:") \
            else "right"
        terms = signature_terms(train_answers, [r[f"{base_side}_answer"] for r in general])
        summary["signature_terms"] = terms
        if terms:
            for side in ("left", "right"):
                leaked = [r for r in general if any(t in words(r[f"{side}_answer"]) for t in terms)]
                for r in leaked:
                    r[f"{side}_leak"] = True
                summary.setdefault("general_leaks", {})[side] = len(leaked)
            summary["general_leaks"]["of"] = len(general)
    return {"summary": summary, "rows": rows}


def summary_line(summary: dict[str, Any]) -> str:
    """A comparison report in one line, for the run's log and the Train tab."""
    parts = []
    if summary.get("with_reference"):
        parts.append(f"ROUGE-L {summary.get('left_rougeL')} → {summary.get('right_rougeL')}")
        parts.append(f"perplexity {summary.get('left_perplexity')} → {summary.get('right_perplexity')}")
    if summary.get("general_right"):
        g = summary["general_right"]
        parts.append(f"general questions right {g['left']} → {g['right']} of {g['of']}")
    if summary.get("general_leaks"):
        parts.append(f"leaks {summary['general_leaks']['right']} of {summary['general_leaks']['of']}")
    return "; ".join(parts) or "no scores"
