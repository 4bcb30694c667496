"""Who may call the endpoint, and how often. Keys are held in memory only: given at start or generated
and printed there, never written into the outputs folder."""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from engine.serve.protocol import ApiError

DEFAULT_RATE = 60  # requests per minute per key, where keys are required


def new_key() -> str:
    return "td-" + secrets.token_urlsafe(24)


class ApiKeys:
    """`keys` empty: anyone who reaches the server may call it (a local app)."""

    def __init__(self, keys: list[str] | None = None):
        self.keys = [k for k in (keys or []) if k]

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def check(self, authorization: str | None) -> str:
        """The caller's key (or "local" where none is required); 401 without a valid one."""
        if not self.required:
            return "local"
        scheme, _, given = (authorization or "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            raise ApiError(401, "this TuneDesk endpoint needs an API key: send the header "
                                "'Authorization: Bearer <key>' (the key was printed when the app started)",
                           code="missing_api_key")
        if not any(hmac.compare_digest(given.encode(), key.encode()) for key in self.keys):
            raise ApiError(401, "the API key is not one this TuneDesk app accepts: use the key printed when "
                                "it started, or the one given with --api-key", code="invalid_api_key")
        return given


class RateLimit:
    """At most `per_minute` requests per key in any 60 s (0: no limit); the next one gets 429 with the
    seconds to wait."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.per_minute <= 0:
            return
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - 60:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = max(1, math.ceil(seen[0] + 60 - now))
                raise ApiError(429, f"more than {self.per_minute} requests in a minute with this key: try again "
                                    f"in {wait} s", code="rate_limit_exceeded", kind="rate_limit_error",
                               headers={"Retry-After": str(wait)})
            seen.append(now)


def access_for(given: list[str], required: bool, rate: int | None) -> tuple[ApiKeys, RateLimit, str]:
    """Keys and rate limit for a server: `required` (a shared, password-protected or LAN-facing app)
    without keys given generates one, returned so it can be printed. The rate defaults to DEFAULT_RATE
    where keys are in use and to no limit on a local app without them."""
    keys = [k.strip() for k in given if k and k.strip()]
    generated = new_key() if required and not keys else ""
    keys += [generated] if generated else []
    per_minute = rate if rate is not None else (DEFAULT_RATE if keys else 0)
    return ApiKeys(keys), RateLimit(per_minute), generated


def announce(url: str, keys: ApiKeys, limit: RateLimit, generated: str) -> str:
    """The lines a server prints at start: where the endpoint is and how to call it."""
    lines = [f"OpenAI-compatible endpoint: {url}/v1 (GET /v1/models, POST /v1/chat/completions)"]
    if generated:
        lines.append(f"  API key (not saved anywhere; pass --api-key to choose one): {generated}")
    elif keys.required:
        lines.append("  API key: the one given with --api-key")
    else:
        lines.append("  no API key needed from this machine")
    if limit.per_minute:
        lines.append(f"  at most {limit.per_minute} requests a minute per key (--api-rate)")
    return "\n".join(lines)
