"""The tracking classes for legacy ``httpx``, loaded only when it is in use."""

from __future__ import annotations

import httpx

from ._transport import (
    AsyncTrackingTransport as _AsyncPublic,
)
from ._transport import (
    TrackingTransport as _SyncPublic,
)
from ._transport import (
    _AsyncCore,
    _AsyncTee,
    _SyncCore,
    _SyncTee,
)


class _HttpxSyncTee(_SyncTee, httpx.SyncByteStream):
    pass


class _HttpxAsyncTee(_AsyncTee, httpx.AsyncByteStream):
    pass


class TrackingTransport(_SyncCore, _SyncPublic, httpx.BaseTransport):
    _tee = _HttpxSyncTee


class AsyncTrackingTransport(_AsyncCore, _AsyncPublic, httpx.AsyncBaseTransport):
    _tee = _HttpxAsyncTee
