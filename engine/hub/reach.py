"""Hub access that fails within seconds when offline, instead of hanging on retries."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from engine.errors import HubUnreachable
from engine.text.message import Text, say

PROBE_TIMEOUT_S = 3.0


def hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def modelscope_endpoint() -> str:
    return os.environ.get("MODELSCOPE_DOMAIN", "https://www.modelscope.cn")


def ensure_reachable(hub: str, url: str | None = None) -> None:
    """Raise HubUnreachable with advice unless the hub's host accepts a TCP connection quickly."""
    url = url or (hf_endpoint() if hub == "hf" else modelscope_endpoint())
    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if hub == "hf" and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise HubUnreachable(_advice(hub, host, say("hub.offline_set")))
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return
    except OSError as exc:
        raise HubUnreachable(_advice(hub, host, str(exc) or type(exc).__name__)) from exc


def _advice(hub: str, host: str, reason: object) -> Text:
    name = "Hugging Face" if hub == "hf" else "ModelScope"
    return say("hub.unreachable", name=name, host=host, reason=reason,
               other=say("hub.unreachable_hf" if hub == "hf" else "hub.unreachable_ms"))
