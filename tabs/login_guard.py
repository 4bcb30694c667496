"""The login page tells a visitor nothing about the app.

Gradio's page template embeds the app's whole API description (every named endpoint with its parameter
labels and defaults) even when it serves the login form to someone without the password. This ASGI
middleware blanks that description on exactly those pages: the login page's config says
`"auth_required": true`, a logged-in user's page never does.
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


class LoginPageGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
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
