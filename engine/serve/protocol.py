"""The OpenAI protocol's requests, read and checked, and its response objects. A bad request is an
`ApiError` naming the field, in the shape OpenAI clients already show their users."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.inference.decode import Sampling

MAX_STOPS = 4
DEFAULT_MAX_TOKENS = 512
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class ApiError(Exception):
    """An answer other than 200: its HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"{param}: {message}", param=param)


@dataclass(frozen=True)
class GenerationRequest:
    """One request to /v1/chat/completions (`messages`) or /v1/completions (`prompt`)."""

    model: str
    sampling: Sampling
    messages: list[dict[str, str]] = field(default_factory=list)
    prompt: str = ""
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False

    @property
    def chat(self) -> bool:
        return bool(self.messages)


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float,
            low_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(name, f"expected a number, got {value!r}")
    if value > high or value < low or (low_open and value == low):
        raise bad(name, f"{value} is out of range: choose {'more than' if low_open else 'from'} {low} "
                        f"{'and at most' if low_open else 'to'} {high}")
    return float(value)


def _integer(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(name, f"expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise bad(name, f"{value} is out of range: choose {low} to {high}")
    return value


def _sampling(body: dict[str, Any]) -> Sampling:
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    tokens = _integer({name: max_tokens}, name, DEFAULT_MAX_TOKENS, 1, 8192)
    penalty = body.get("frequency_penalty") or body.get("presence_penalty")
    if penalty:
        raise bad("frequency_penalty" if body.get("frequency_penalty") else "presence_penalty",
                  "not supported: TuneDesk decodes with transformers' repetition penalty (leave it out)")
    return Sampling(temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
                    top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True), max_new_tokens=tokens,
                    seed=_integer(body, "seed", 0, -(2**63), 2**63 - 1))


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("stop")
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise bad("stop", "expected a string or a list of non-empty strings")
    if len(values) > MAX_STOPS:
        raise bad("stop", f"{len(values)} stop sequences; at most {MAX_STOPS}")
    return tuple(values)


def _common(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad("model", "missing: name one of GET /v1/models' ids")
    if body.get("n", 1) != 1:
        raise bad("n", "only 1 answer per request is supported")
    if body.get("tools") or body.get("functions"):
        raise bad("tools", "tool calling is not supported by TuneDesk's endpoint")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad("stream_options", "expected an object")
    return {"model": model.strip(), "sampling": _sampling(body), "stop": _stops(body),
            "stream": bool(body.get("stream", False)), "include_usage": bool(options.get("include_usage"))}


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None and message.get("role") == "assistant":
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise bad(f"messages[{index}].content", f"a {kind!r} part: only text parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise bad(f"messages[{index}].content", "expected a string or a list of text parts")


def parse_chat(body: Any) -> GenerationRequest:
    common = _common(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "expected a non-empty list of {role, content} objects")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad(f"messages[{i}]", "expected an object with role and content")
        role = ROLES.get(message.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise bad(f"messages[{i}].role", f"{message.get('role')!r}: use system, user or assistant")
        out.append({"role": role, "content": _content(message, i)})
    if out[-1]["role"] == "assistant":
        raise bad("messages", "the last message is the assistant's: end with a user message")
    return GenerationRequest(messages=out, **common)


def parse_completion(body: Any) -> GenerationRequest:
    common = _common(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise bad("prompt", "expected one non-empty string")
    return GenerationRequest(prompt=prompt, **common)


def new_id(request: GenerationRequest) -> str:
    return ("chatcmpl-" if request.chat else "cmpl-") + uuid.uuid4().hex[:24]


def model_object(model_id: str, created: int, label: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "tunedesk", "name": label}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def response(request: GenerationRequest, answer_id: str, text: str, finish: str, counts: dict[str, int]
             ) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
    if request.chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {"id": answer_id, "object": "chat.completion" if request.chat else "text_completion",
            "created": int(time.time()), "model": request.model, "choices": [choice], "usage": counts}


def chunk(request: GenerationRequest, answer_id: str, text: str | None, finish: str | None = None,
          counts: dict[str, int] | None = None, first: bool = False) -> dict[str, Any]:
    """One server-sent event's object; `text` None with `counts`: the closing usage chunk (no choices)."""
    out: dict[str, Any] = {"id": answer_id, "object": "chat.completion.chunk" if request.chat else "text_completion",
                           "created": int(time.time()), "model": request.model}
    if text is None:
        return {**out, "choices": [], "usage": counts}
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
    if request.chat:
        choice["delta"] = ({"role": "assistant", "content": text} if first else {"content": text}) if text or first \
            else {}
    else:
        choice["text"] = text
    return {**out, "choices": [choice]}
