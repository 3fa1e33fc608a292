"""Tracking transports for httpx2 (what openai 3.x uses) and legacy httpx.

httpx asserts that a client, its transports and their streams are of one
flavour, so each flavour gets its own small classes: a transport and a stream
wrapper, sync and async, made of the flavour's base class and a core shared
by both flavours. ``TrackingTransport(...)`` and ``AsyncTrackingTransport(...)``
pick the flavour of the transport they wrap.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import httpx2

from ._observe import Plan, Tap, add_include_usage, log_failure, plan
from ._pricing import warm_catalogue
from ._tracker import TokenTracker

__all__ = ["AsyncTrackingTransport", "TrackingTransport"]


class _SyncTee:
    """Passes a body through unchanged while a ``Tap`` watches it.

    One-shot: a second iteration resumes where the first stopped (openai may
    iterate again after ``[DONE]``), it never restarts the body.
    """

    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap
        self._chunks: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._chunks is None:
            self._chunks = iter(self._inner)
        for chunk in self._chunks:
            self._tap.feed(chunk)
            yield chunk

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._tap.finish()


class _AsyncTee:
    """The async twin of ``_SyncTee``."""

    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap
        self._chunks: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._chunks is None:
            self._chunks = aiter(self._inner)
        async for chunk in self._chunks:
            self._tap.feed(chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._tap.finish()


class _Core:
    """What both transports do around the call they pass on."""

    _tee: type[Any]
    next_transport: Any

    def _default_transport(self) -> Any:
        raise NotImplementedError

    def __init__(
        self,
        transport: Any = None,
        *,
        tracker: TokenTracker | None = None,
        include_usage: bool = False,
    ) -> None:
        self.next_transport = (
            self._default_transport() if transport is None else transport
        )
        self.tracker = tracker
        self.include_usage = include_usage
        # Pricing the first call must not wait for the catalogue to import.
        warm_catalogue()

    def _plan(self, request: Any) -> Plan | None:
        try:
            found = plan(request.method, request.url.path, self.tracker)
            if found is not None and self.include_usage:
                self._ask_for_usage(request, found)
            return found
        except Exception as exc:
            log_failure("inspecting a request", exc)
            return None

    def _ask_for_usage(self, request: Any, found: Plan) -> None:
        if found.endpoint.kind != "chat":
            return
        body = add_include_usage(request.read())
        if body is None:
            return
        request.headers["content-length"] = str(len(body))
        request.stream = type(request.stream)(body)
        request._content = body

    def _watch(self, found: Plan | None, response: Any) -> Any:
        if found is None or not 200 <= response.status_code < 300:
            return response
        try:
            preread = getattr(response, "_content", None)
            tap = Tap(found, response.headers, preread)
            if preread is not None:
                # Already in memory (a mock built with content=): httpx will
                # neither iterate nor close its stream, so record it now.
                tap.finish()
            else:
                response.stream = self._tee(response.stream, tap)
        except Exception as exc:
            log_failure("watching a response", exc)
        return response

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.next_transport!r})"


class _SyncCore(_Core):
    def _default_transport(self) -> Any:
        return httpx2.HTTPTransport(limits=_sdk_limits())

    def handle_request(self, request: Any) -> Any:
        found = self._plan(request)
        response = self.next_transport.handle_request(request)
        return self._watch(found, response)

    def close(self) -> None:
        self.next_transport.close()


class _AsyncCore(_Core):
    def _default_transport(self) -> Any:
        return httpx2.AsyncHTTPTransport(limits=_sdk_limits())

    async def handle_async_request(self, request: Any) -> Any:
        found = self._plan(request)
        response = await self.next_transport.handle_async_request(request)
        return self._watch(found, response)

    async def aclose(self) -> None:
        await self.next_transport.aclose()


class _ChoosesFlavour:
    """Makes ``PublicClass(transport)`` an instance of the subclass of the
    transport's flavour; subclasses are built as usual."""

    next_transport: Any
    tracker: TokenTracker | None
    include_usage: bool

    def __new__(
        cls,
        transport: Any = None,
        *,
        tracker: TokenTracker | None = None,
        include_usage: bool = False,
    ) -> Self:
        chosen = cls
        if "_public" in cls.__dict__:
            chosen = getattr(_flavour(transport), cls.__name__)
        # Python then runs the chosen class's __init__ with the same arguments.
        return super().__new__(chosen)


class TrackingTransport(_ChoosesFlavour):
    """A sync transport that records the usage of every OpenAI call it carries.

    Args:
        transport: the transport to wrap, of either flavour (``httpx2`` or
            legacy ``httpx``); the tracking transport is of the same flavour.
            Default: an ``httpx2.HTTPTransport`` with the openai SDK's
            connection limits.
        tracker: where records go; default ``TokenTracker.default()``.
        include_usage: add ``stream_options.include_usage`` to streamed chat
            requests, so that their usage is known. The caller's stream then
            ends with one more chunk, whose ``choices`` list is empty.

    Prefer ``track(client)`` on an existing client: passing ``transport=`` to
    a client drops the client's own limits, proxies and redirect settings.
    """

    _public = True


class AsyncTrackingTransport(_ChoosesFlavour):
    """The async twin of ``TrackingTransport``, for ``AsyncOpenAI`` clients."""

    _public = True


class _Httpx2SyncTee(_SyncTee, httpx2.SyncByteStream):
    pass


class _Httpx2AsyncTee(_AsyncTee, httpx2.AsyncByteStream):
    pass


class _Httpx2Transport(_SyncCore, TrackingTransport, httpx2.BaseTransport):
    _tee = _Httpx2SyncTee


class _Httpx2AsyncTransport(
    _AsyncCore, AsyncTrackingTransport, httpx2.AsyncBaseTransport
):
    _tee = _Httpx2AsyncTee


class _Httpx2Flavour:
    TrackingTransport = _Httpx2Transport
    AsyncTrackingTransport = _Httpx2AsyncTransport


def _flavour(transport: Any) -> Any:
    """The module of classes that match ``transport``'s flavour; httpx2,
    what openai 3.x uses, when there is no transport yet."""
    native = httpx2.BaseTransport | httpx2.AsyncBaseTransport
    if transport is None or isinstance(transport, native):
        return _Httpx2Flavour
    legacy = sys.modules.get("httpx")
    if legacy is not None and isinstance(
        transport, legacy.BaseTransport | legacy.AsyncBaseTransport
    ):
        from . import _legacy  # noqa: PLC0415 - only when httpx is in use

        return _legacy
    raise TypeError(
        "TrackingTransport wraps an httpx2 or httpx transport (such as "
        f"httpx2.HTTPTransport()); got {type(transport).__name__}"
    )


def _sdk_limits() -> Any:
    try:
        from openai._constants import DEFAULT_CONNECTION_LIMITS  # noqa: PLC0415
    except ImportError:
        return httpx2.Limits()
    return DEFAULT_CONNECTION_LIMITS
