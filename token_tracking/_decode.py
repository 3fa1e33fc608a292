"""Undo a response's ``Content-Encoding`` one chunk at a time.

The transport sees the body as it came off the wire, before httpx removes the
content coding, so the usage reader needs its own decoder. Each decoder takes
chunks of any size and returns whatever output they complete; ``flush()``
returns what is left once the body has ended. Decoders raise the codec's own
error (``zlib.error``, ``brotli.error``, ``zstandard.ZstdError``) on corrupt
input; callers are expected to catch it.
"""

from __future__ import annotations

import functools
import importlib
import zlib
from typing import Any, Protocol

__all__ = ["Decoder", "make_decoder"]

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_NO_CODING = frozenset(("", "identity", "none"))


class Decoder(Protocol):
    """Incremental decoder for one response body."""

    def decode(self, chunk: bytes) -> bytes:
        """Return the output that ``chunk`` completes."""
        ...

    def flush(self) -> bytes:
        """Return the output still held back once the body has ended."""
        ...


class _Inflater(Protocol):
    # The part of zlib's decompression object we use; typeshed keeps the
    # class itself private.
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, /) -> bytes: ...
    def flush(self) -> bytes: ...


def make_decoder(content_encoding: str | None) -> Decoder | None:
    """Return a decoder for a ``Content-Encoding`` header value.

    No header, an empty one and ``identity`` give a pass-through. Codings
    listed together (``"gzip, br"``) were applied in that order, so they are
    undone from last to first. Returns ``None`` when a coding is unknown, or
    when it needs the optional ``brotli`` or ``zstandard`` package and that
    package is not installed.
    """
    codings = [part.strip() for part in (content_encoding or "").lower().split(",")]
    decoders: list[Decoder] = []
    for coding in reversed(codings):
        if coding in _NO_CODING:
            continue
        decoder = _decoder_for(coding)
        if decoder is None:
            return None
        decoders.append(decoder)

    if not decoders:
        return _Identity()
    if len(decoders) == 1:
        return decoders[0]
    return _Chain(decoders)


def _decoder_for(coding: str) -> Decoder | None:
    if coding in ("gzip", "x-gzip"):
        return _Gzip()
    if coding == "deflate":
        return _Deflate()
    if coding == "br" and _module("brotli") is not None:
        return _Brotli()
    if coding == "zstd" and _module("zstandard") is not None:
        return _Zstd()
    return None


@functools.cache
def _module(name: str) -> Any:
    # Imported on first use: most bodies are identity or gzip, and the
    # compression extras are optional.
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


class _Identity:
    __slots__ = ()

    def decode(self, chunk: bytes) -> bytes:
        return chunk

    def flush(self) -> bytes:
        return b""


class _Gzip:
    """gzip, including bodies made of several concatenated members.

    Bytes after the last member that do not start another member are ignored,
    as browsers and urllib3 do, so padding behind a good body is no error.
    """

    __slots__ = ("_done", "_inflater")

    def __init__(self) -> None:
        self._inflater: _Inflater = zlib.decompressobj(_GZIP_WBITS)
        self._done = False

    def decode(self, chunk: bytes) -> bytes:
        if self._done:
            return b""
        output = self._inflater.decompress(chunk)
        while self._inflater.eof and self._inflater.unused_data:
            output += self._next_member(self._inflater.unused_data)
        return output

    def flush(self) -> bytes:
        return b"" if self._done else self._inflater.flush()

    def _next_member(self, data: bytes) -> bytes:
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            return self._inflater.decompress(data)
        except zlib.error:
            self._done = True
            return b""


class _Deflate:
    """``deflate``, which servers send both zlib-wrapped and as raw deflate.

    RFC 9110 says zlib-wrapped, but raw deflate is common enough that httpx
    and browsers accept both. The two-byte zlib header (RFC 1950, section 2.2)
    tells them apart, so the first two bytes are held until both are in.
    """

    __slots__ = ("_head", "_inflater")

    def __init__(self) -> None:
        self._inflater: _Inflater | None = None
        self._head = b""

    def decode(self, chunk: bytes) -> bytes:
        if self._inflater is None:
            self._head += chunk
            if len(self._head) < 2:
                return b""
            chunk, self._head = self._head, b""
            self._inflater = zlib.decompressobj(_deflate_wbits(chunk))
        return self._inflater.decompress(chunk)

    def flush(self) -> bytes:
        if self._inflater is None:
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflater.decompress(self._head) + self._inflater.flush()
        return self._inflater.flush()


def _deflate_wbits(head: bytes) -> int:
    method, flags = head[0], head[1]
    wrapped = method & 0x0F == 8 and (method << 8 | flags) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


class _Brotli:
    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        self._decompressor = _module("brotli").Decompressor()

    def decode(self, chunk: bytes) -> bytes:
        output: bytes = self._decompressor.process(chunk)
        return output

    def flush(self) -> bytes:
        return b""


class _Zstd:
    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        # A zstd body may hold several frames back to back (RFC 8878,
        # section 3.1); read_across_frames keeps decoding past the first.
        zstandard = _module("zstandard")
        self._decompressor = zstandard.ZstdDecompressor().decompressobj(
            read_across_frames=True
        )

    def decode(self, chunk: bytes) -> bytes:
        output: bytes = self._decompressor.decompress(chunk)
        return output

    def flush(self) -> bytes:
        return b""


class _Chain:
    __slots__ = ("_decoders",)

    def __init__(self, decoders: list[Decoder]) -> None:
        self._decoders = decoders

    def decode(self, chunk: bytes) -> bytes:
        for decoder in self._decoders:
            chunk = decoder.decode(chunk)
        return chunk

    def flush(self) -> bytes:
        # Whatever an outer decoder releases at the end still has to pass
        # through the decoders inside it.
        data = b""
        for decoder in self._decoders:
            data = decoder.decode(data) + decoder.flush()
        return data
