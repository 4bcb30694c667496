"""The OpenAI-compatible routes as an ASGI app: GET /v1/models, POST /v1/chat/completions and
/v1/completions, streamed as server-sent events when asked. Mounted on the app's own server (see
mount.py) or served alone by `python -m engine serve`."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.serve.keys import ApiKeys, RateLimit
from engine.serve.protocol import (
    ApiError,
    GenerationRequest,
    chunk,
    new_id,
    parse_chat,
    parse_completion,
    response,
    usage,
)
from engine.serve.service import Answer, Prepared, Service

MAX_BODY = 4 << 20  # a request body larger than this is refused before it is parsed
DRAIN_LIMIT = 64 << 20  # a larger one is read (and thrown away) up to here, so the client hears why


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def _event(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


class ServeApi:
    def __init__(self, service: Service, keys: ApiKeys | None = None, limit: RateLimit | None = None):
        self.service = service
        self.keys = keys or ApiKeys()
        self.limit = limit or RateLimit(0)
        routes = [Route("/v1/models", self.list_models, methods=["GET"]),
                  Route("/v1/models/{model:path}", self.get_model, methods=["GET"]),
                  Route("/v1/chat/completions", self.chat, methods=["POST"]),
                  Route("/v1/completions", self.completions, methods=["POST"]),
                  Route("/v1/{rest:path}", self.unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])]
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def _caller(self, request: Request) -> str:
        key = self.keys.check(request.headers.get("authorization"))
        self.limit.check(key)
        return key

    async def list_models(self, request: Request) -> Response:
        try:
            self._caller(request)
            models = await run_in_threadpool(self.service.models)
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse({"object": "list", "data": models})

    async def get_model(self, request: Request) -> Response:
        try:
            self._caller(request)
            model = await run_in_threadpool(self.service.model, request.path_params["model"])
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse(model)

    async def unknown(self, request: Request) -> Response:
        return error_response(ApiError(404, f"{request.method} {request.url.path} is not a route of this endpoint: "
                                            "it serves GET /v1/models, POST /v1/chat/completions and POST "
                                            "/v1/completions", code="unknown_url"))

    async def chat(self, request: Request) -> Response:
        return await self._generate(request, parse_chat)

    async def completions(self, request: Request) -> Response:
        return await self._generate(request, parse_completion)

    async def _generate(self, request: Request, parse: Callable[[Any], GenerationRequest]) -> Response:
        try:
            self._caller(request)
            asked = parse(await _json(request))
            prepared = await run_in_threadpool(self.service.prepare, asked)
        except ApiError as exc:
            return error_response(exc)
        if asked.stream:
            return StreamingResponse(self._events(prepared), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        try:
            answer = await run_in_threadpool(self.service.complete, prepared)
        except ApiError as exc:
            return error_response(exc)
        counts = usage(len(prepared.prompt), answer.completion_tokens)
        return JSONResponse(response(asked, new_id(asked), answer.text, answer.finish or "stop", counts))

    async def _events(self, prepared: Prepared) -> AsyncIterator[str]:
        asked, answer_id, answer = prepared.request, new_id(prepared.request), Answer()
        stop = threading.Event()  # set when the client goes away, so the model stops generating for nobody
        try:
            yield _event(chunk(asked, answer_id, "", first=True))
            async for piece in iterate_in_threadpool(self.service.pieces(prepared, answer, stop)):
                yield _event(chunk(asked, answer_id, piece))
            yield _event(chunk(asked, answer_id, "", finish=answer.finish))
            if asked.include_usage:
                yield _event(chunk(asked, answer_id, None, counts=usage(len(prepared.prompt),
                                                                          answer.completion_tokens)))
        except ApiError as exc:
            yield _event(exc.body())
        finally:
            stop.set()
        yield "data: [DONE]\n\n"


async def _json(request: Request) -> Any:
    chunks, size = [], 0
    async for part in request.stream():  # read as it comes, kept only up to the limit
        size += len(part)
        if size <= MAX_BODY:
            chunks.append(part)
        elif size > DRAIN_LIMIT:
            break  # past this the connection is dropped rather than read to its end
    if size > MAX_BODY:
        raise ApiError(413, f"the request body is over {MAX_BODY:,} bytes, the limit: send a shorter conversation")
    body = b"".join(chunks)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column "
                            f"{exc.colno})") from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "the request body is not valid JSON: "
                            f"{'not UTF-8 text' if isinstance(exc, UnicodeDecodeError) else 'nested too deeply'}"
                       ) from exc
