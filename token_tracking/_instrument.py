"""Tracking for clients built elsewhere: ``track()`` and ``instrument()``."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._tracker import TokenTracker
from ._transport import AsyncTrackingTransport, TrackingTransport

__all__ = ["instrument", "track", "uninstrument"]

_C = TypeVar("_C")

_patched: dict[type[Any], Callable[..., None]] = {}
_patch_lock = threading.Lock()


def track(
    client: _C, *, tracker: TokenTracker | None = None, include_usage: bool = False
) -> _C:
    """Wrap the transports of an ``httpx2``/``httpx`` client in place.

    The client keeps its timeouts, connection limits, proxies and redirect
    settings, which passing ``transport=`` would lose::

        client = AzureOpenAI(..., http_client=track(DefaultHttpxClient()))

    Tracking an already tracked client changes nothing. Returns the client.
    """
    transport = getattr(client, "_transport", None)
    mounts = getattr(client, "_mounts", None)
    if transport is None or not isinstance(mounts, dict):
        raise TypeError(
            "track() takes an httpx2 or httpx Client or AsyncClient (such as "
            f"openai.DefaultHttpxClient()); got {type(client).__name__}"
        )
    # The client's kind decides: a MockTransport serves sync and async alike.
    kind = AsyncTrackingTransport if hasattr(client, "aclose") else TrackingTransport
    wrap = functools.partial(
        _wrap, kind=kind, tracker=tracker, include_usage=include_usage
    )
    client._transport = wrap(transport)  # type: ignore[attr-defined]
    for pattern, mounted in mounts.items():
        if mounted is not None:
            mounts[pattern] = wrap(mounted)
    return client


def _wrap(transport: Any, *, kind: type[Any], **options: Any) -> Any:
    if isinstance(transport, TrackingTransport | AsyncTrackingTransport):
        return transport
    return kind(transport, **options)


def instrument(
    *, tracker: TokenTracker | None = None, include_usage: bool = False
) -> None:
    """Track every openai client made from now on, in any library.

    Covers ``OpenAI``, ``AzureOpenAI``, ``AsyncOpenAI`` and
    ``AsyncAzureOpenAI``, including clients that libraries such as
    ``mcp_agent`` build for each call. Calling it again changes nothing;
    ``uninstrument()`` puts the SDK back as it was.
    """
    from openai._base_client import AsyncAPIClient, SyncAPIClient  # noqa: PLC0415

    with _patch_lock:
        for cls in (SyncAPIClient, AsyncAPIClient):
            if cls in _patched:
                continue
            original = cls.__init__
            _patched[cls] = original
            cls.__init__ = _tracked_init(  # type: ignore[method-assign]
                original, tracker, include_usage
            )


def uninstrument() -> None:
    """Undo ``instrument()``; clients made meanwhile stay tracked."""
    with _patch_lock:
        for cls, original in _patched.items():
            cls.__init__ = original
        _patched.clear()


def _tracked_init(
    original: Callable[..., None], tracker: TokenTracker | None, include_usage: bool
) -> Callable[..., None]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        track(self._client, tracker=tracker, include_usage=include_usage)

    return __init__
