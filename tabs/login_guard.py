"""The login page tells a visitor nothing about the app.

Gradio's page template embeds the app's whole API description (every named endpoint with its parameter
labels and defaults) even when it serves the login form to someone without the password. This ASGI
middleware blanks that description on exactly those pages: the login page's config says
`"auth_required": true`, a logged-in user's page never does.

It also refuses the session heartbeat stream to a visitor without a login: Gradio serves it to anyone,
and a stream held open per visitor is a cheap way to tie up a shared app.
"""

from __future__ import annotations

import re
from typing import Any

_API_INFO = re.compile(rb"gradio_api_info = .*?;(?=\s*\n|\s*</script>|\s*window\.|\s*gradio_config)", re.S)
_LOGIN = re.compile(rb'"auth_required":\s*true')


def strip_api_info(body: bytes) -> bytes:
    if not _LOGIN.search(body):
        return body
    return _API_INFO.sub(b"gradio_api_info = {};", body, count=1)


def logged_in(scope: dict) -> bool:
    """Gradio's own check: its access-token cookie names a live session (or the app has no login)."""
    from starlette.requests import Request

    app = scope.get("app")  # Starlette puts the Gradio app itself here, before any middleware runs
    if app is None or (getattr(app, "auth", None) is None and getattr(app, "auth_dependency", None) is None):
        return True
    cookies = Request(scope).cookies
    token = cookies.get(f"access-token-{app.cookie_id}") or cookies.get(f"access-token-unsecure-{app.cookie_id}")
    return token is not None and token in app.tokens


class LoginPageGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        if "/heartbeat/" in scope.get("path", "") and not logged_in(scope):
            body = b'{"detail":{"error":"Not authenticated"}}'
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        start: dict | None = None
        chunks: list[bytes] = []
        html = False

        async def capture(message: dict) -> None:
            nonlocal start, html
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                html = headers.get(b"content-type", b"").startswith(b"text/html")
                if not html:
                    await send(message)
                    return
                start = message
                return
            if not html:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = strip_api_info(b"".join(chunks))
            assert start is not None
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)
