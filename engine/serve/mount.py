"""The endpoint on the app's own server: an ASGI middleware that hands every /v1/ request to the
OpenAI-compatible routes and everything else to the Gradio app, so one port (and a share link) serves
both. Gradio's login does not cover /v1: API keys do (see keys.py)."""

from __future__ import annotations

from typing import Any

PREFIX = "/v1"


class ServeMount:
    def __init__(self, app: Any, api: Any):
        self.app = app
        self.api = api

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.api(scope, receive, send)
            return
        await self.app(scope, receive, send)
