"""The comparison report of a run that just completed with a validation or test split
(`compare_after_training`): base and tuned model answer it and TuneDesk's general questions. Installed on
the run queue by the engine's door; best effort, so the run stays completed whatever happens here."""

from __future__ import annotations

from typing import Any

from engine.evaluation.batch import BatchComparer, CompareRequest, summary_line
from engine.inference.pool import POOL
from engine.runs.rundir import RunDir, read_json


class CompareAfterTraining:
    def __init__(self, manager: Any):
        self.manager = manager

    def __call__(self, run: RunDir) -> None:
        try:
            config = run.config()
            data = read_json(run.path / "data_report.json", {}) or {}
            if not config.compare_after_training or not (data.get("val_examples") or data.get("test_examples")):
                return
            run.log("comparison report: base and tuned model answer the validation split and general questions…")
            request = CompareRequest(f"base:{config.model_name_or_path}", f"run:{run.run_id}", max_new_tokens=64,
                                     limit=50)
            try:
                report = BatchComparer(self.manager).run(request)
            finally:
                POOL.release()
            run.log(f"comparison report saved: {report['saved']['json']} — {summary_line(report['summary'])}")
        except Exception as exc:  # noqa: BLE001 - a report must never turn a completed run into a failure
            run.log(f"comparison report skipped: {type(exc).__name__}: {exc}")
