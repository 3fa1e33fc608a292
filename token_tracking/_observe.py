"""What the transports do with a request and its response, whatever the flavour.

The request path does as little as it can: a path match and a context read.
Responses that cannot carry usage (other endpoints, non-2xx statuses) are
handed back untouched; the others get a ``Tap`` that watches their body pass
and records the call once, when the body stream is closed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ._context import current_context
from ._endpoints import Endpoint, classify
from ._extract import BodyObserver
from ._tracker import TokenTracker

logger = logging.getLogger("token_tracking")

_QUIET_SECONDS = 60.0
_last_logged: dict[str, float] = {}
_log_lock = threading.Lock()
_warned_no_usage = False


def log_failure(what: str, exc: BaseException | str) -> None:
    """Log a failure inside tracking, at most once a minute per kind.

    Only the exception's type and message are logged: they never carry
    headers or bodies, which this module never puts in an exception.
    """
    now = time.monotonic()
    with _log_lock:
        if now - _last_logged.get(what, -_QUIET_SECONDS) < _QUIET_SECONDS:
            return
        _last_logged[what] = now
    detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    logger.warning(
        "token tracking failed while %s (%s); the call itself is unaffected",
        what,
        detail,
    )


@dataclass(slots=True)
class Plan:
    """A request worth watching: what it is and who asked for it."""

    endpoint: Endpoint
    context: str | None
    started: float
    tracker: TokenTracker | None


def plan(method: str, path: str, tracker: TokenTracker | None) -> Plan | None:
    """A ``Plan`` for an OpenAI call that may report usage, else None."""
    if method != "POST":
        return None
    endpoint = classify(path)
    if endpoint is None:
        return None
    return Plan(endpoint, current_context(), time.perf_counter(), tracker)


def add_include_usage(body: bytes) -> bytes | None:
    """The body of a streamed chat request with ``include_usage`` set, or None
    when it is not a streamed request or already asks for usage."""
    request = orjson.loads(body)
    if not isinstance(request, dict) or request.get("stream") is not True:
        return None
    options = request.get("stream_options")
    if not isinstance(options, dict):
        options = {}
    if options.get("include_usage") is not None:
        return None
    request["stream_options"] = {**options, "include_usage": True}
    return orjson.dumps(request)


class Tap:
    """Watches one response body and records its call once, at close."""

    __slots__ = ("_done", "_observer", "_plan")

    def __init__(self, plan: Plan, headers: Any, preread: bytes | None) -> None:
        self._plan = plan
        self._done = False
        # A body read into memory before it reached us (a mock transport
        # built with content=) is already decoded.
        encoding = None if preread is not None else headers.get("content-encoding")
        self._observer = BodyObserver(headers.get("content-type"), encoding)
        if preread is not None:
            self._observer.feed(preread)

    def feed(self, chunk: bytes) -> None:
        self._observer.feed(chunk)

    def finish(self) -> None:
        """Record the call; never raises, records at most once."""
        if self._done:
            return
        self._done = True
        try:
            self._record()
        except Exception as exc:
            log_failure("recording a call", exc)

    def _record(self) -> None:
        seen = self._observer.finish()
        if seen.error is not None:
            log_failure("reading a response body", seen.error)
        if seen.usage is None and not seen.streamed:
            return
        if seen.usage is None:
            _warn_no_usage()

        plan = self._plan
        extra: dict[str, Any] = {"endpoint": plan.endpoint.kind}
        if plan.endpoint.deployment is not None:
            extra["deployment"] = plan.endpoint.deployment
        extra["response_id"] = seen.response_id
        extra["stream"] = seen.streamed
        extra["duration_ms"] = round((time.perf_counter() - plan.started) * 1000, 1)
        model = seen.model or plan.endpoint.deployment
        tracker = plan.tracker or TokenTracker.default()
        tracker.record(plan.context, model, seen.usage, extra)


def _warn_no_usage() -> None:
    global _warned_no_usage  # noqa: PLW0603 - one warning per process
    if _warned_no_usage:
        return
    _warned_no_usage = True
    logger.warning(
        "a streamed response carried no usage, so its call is recorded without "
        "tokens or cost. Pass stream_options={'include_usage': True} to "
        "chat.completions.create(stream=True), or build the transport with "
        "include_usage=True"
    )
