"""What the endpoint serves and how it answers: the models Compare Chat can put on a side, each with its
own chat template, generated through the same pool and the same decoding as Compare Chat, so a greedy
answer here is the answer Compare Chat gives for that side and prompt."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import ModelError
from engine.inference.generate import check_context, render, stream_state
from engine.inference.pool import POOL, ModelPool, Side
from engine.inference.sides import plan_side, side_choices
from engine.serve.protocol import ApiError, GenerationRequest, model_object
from engine.serve.stop_text import StopText

TRAINING_RETRY_S = 30


@dataclass
class Prepared:
    """A request whose model is loaded and whose prompt fits: nothing left that could be refused."""

    request: GenerationRequest
    side: Side
    prompt: list[int]


@dataclass
class Answer:
    """Filled in while the answer streams: the text sent, why it ended, the tokens generated."""

    text: str = ""
    finish: str | None = None
    completion_tokens: int = 0


class Service:
    def __init__(self, manager: Any, pool: ModelPool = POOL):
        self.manager = manager
        self.pool = pool

    def models(self) -> list[dict[str, Any]]:
        started = {row["run_id"]: int(row.get("started_at") or 0) for row in self.manager.list_runs()}
        out = []
        for label, spec in side_choices(self.manager):
            run_id = spec[4:].partition("@")[0] if spec.startswith("run:") else ""
            out.append(model_object(spec, started.get(run_id, 0), label))
        return out

    def model(self, name: str) -> dict[str, Any]:
        models = self.models()
        spec = self._spec(name, {m["id"] for m in models})
        return next(m for m in models if m["id"] == spec)

    def _spec(self, name: str, specs: set[str] | None = None) -> str:
        """The side a model id names; a bare run id is taken as that run's final model."""
        specs = specs if specs is not None else {spec for _, spec in side_choices(self.manager)}
        for spec in (name, f"run:{name}"):
            if spec in specs:
                return spec
        raise ApiError(404, f"the model {name!r} is not served here: GET /v1/models lists the bundled model, "
                            "each run's base, and each completed run's final model and checkpoints",
                       param="model", code="model_not_found")

    def check_free(self) -> None:
        """Training has the memory while it runs (it unloads the served models first)."""
        run_id = self.manager.current_run_id()
        if run_id:
            raise ApiError(503, f"TuneDesk is training run {run_id} and gave it the memory the served models "
                                "held; the endpoint answers again when the run ends (watch it in the Train tab)",
                           code="training_in_progress", kind="server_error",
                           headers={"Retry-After": str(TRAINING_RETRY_S)})

    def prepare(self, request: GenerationRequest) -> Prepared:
        self.check_free()
        spec = self._spec(request.model)
        try:
            side = self.pool.sides([plan_side(spec, self.manager)])[0]
        except ModelError as exc:
            raise ApiError(500, f"{request.model} cannot be loaded: {exc}", code="model_unavailable",
                           kind="server_error") from exc
        field = "messages" if request.chat else "prompt"
        try:
            if request.chat:
                prompt = render(side, request.messages)
            else:
                prompt = list(side.tokenizer(request.prompt)["input_ids"])
        except ModelError as exc:
            raise ApiError(400, str(exc), param=field) from exc
        try:
            check_context(side, prompt, request.sampling)
        except ModelError as exc:
            raise ApiError(400, str(exc).replace("max new tokens", "max_tokens"), param=field,
                           code="context_length_exceeded") from exc
        return Prepared(request, side, prompt)

    def pieces(self, prepared: Prepared, answer: Answer, stop: threading.Event | None = None) -> Iterator[str]:
        """The answer's text in pieces as it grows; `answer` holds the ending and the counts after."""
        stop = stop or threading.Event()
        cut = StopText(prepared.request.stop)
        state = None
        try:
            for state in stream_state([prepared.side], [prepared.prompt], prepared.request.sampling, stop):
                if cut.update(state.texts[0]):
                    stop.set()
                piece = cut.delta()
                if piece:
                    answer.text += piece
                    yield piece
        except ModelError as exc:
            raise ApiError(500, str(exc), code="generation_failed", kind="server_error") from exc
        rest = cut.delta(final=True)
        answer.text += rest
        answer.completion_tokens = state.tokens[0] if state else 0
        answer.finish = "stop" if cut.stopped or (state is not None and state.ended[0]) else "length"
        if rest:
            yield rest

    def complete(self, prepared: Prepared) -> Answer:
        answer = Answer()
        for _ in self.pieces(prepared, answer):
            pass
        return answer
