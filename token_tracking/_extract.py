"""Read the model, response id and token usage out of a body as it streams by.

``BodyObserver`` is fed the raw chunks a transport hands to the application
and says what it found once the body has ended. It does no I/O and never
raises: a body it cannot read gives an ``Observation`` whose ``error`` says
why, so the caller can log it and move on. The response the application sees
is never touched.

Three shapes are read:

- ``application/json``: chat completions, Responses, embeddings and legacy
  completions objects, whose ``model``, ``id`` and ``usage`` sit at the top.
- ``text/event-stream`` from chat and legacy completions: ``data:`` chunks
  ending with ``data: [DONE]``; usage, when asked for with
  ``stream_options.include_usage``, comes in a chunk of its own.
- ``text/event-stream`` from the Responses API: ``event:``/``data:`` pairs
  whose ``response`` object carries the fields; usage arrives with the
  terminal ``response.completed``, ``response.incomplete`` or
  ``response.failed`` event.

Any other content type is passed over without a look.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol

import orjson

from ._decode import Decoder, make_decoder
from ._fields import Fields, describe, name
from ._sse import EventStream
from ._usage import Usage

__all__ = ["BodyObserver", "Observation"]

_BODY_CAP = 16 * 1024 * 1024
_HEAD_SIZE = 4 * 1024
_TAIL_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Observation:
    """What a response body said about its call.

    ``model`` and ``response_id`` are ``None`` when the body did not name
    them, ``usage`` when it reported no usage (an error response, a stream
    without ``include_usage``). ``error`` is a short reason when the body
    could not be read as expected; it never quotes the body.
    """

    model: str | None = None
    response_id: str | None = None
    usage: Usage | None = None
    streamed: bool = False
    error: str | None = None


class BodyObserver:
    """Watch one response body go by and pull out its model, id and usage.

    Args:
        content_type: the response's ``Content-Type`` header, if any.
        content_encoding: the response's ``Content-Encoding`` header, if any.
            Chunks are fed as they came off the wire and decoded here.

    ``feed()`` and ``finish()`` never raise. A JSON body is kept (by
    reference) and parsed once in ``finish()``; an event stream is read as it
    arrives and holds at most its current unfinished line and event.
    """

    __slots__ = ("_decoder", "_encoding", "_fields", "_reader", "_result", "_streamed")

    def __init__(self, content_type: str | None, content_encoding: str | None) -> None:
        self._fields = Fields()
        self._result: Observation | None = None
        self._encoding = content_encoding
        self._decoder: Decoder | None = None
        self._reader: _Reader | None = None
        self._streamed = False
        try:
            self._start(content_type, content_encoding)
        except Exception as exc:  # the caller's response must not fail with us
            self._stop(f"cannot start reading: {describe(exc)}")

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of the body, exactly as received."""
        reader, decoder = self._reader, self._decoder
        if reader is None or decoder is None:
            return
        try:
            data = decoder.decode(chunk)
        except Exception as exc:  # the caller's response must not fail with us
            self._stop(f"cannot decode {self._encoding!r} body: {describe(exc)}")
            return
        try:
            reader.feed(data)
        except Exception as exc:
            self._stop(f"cannot read body: {describe(exc)}")

    def finish(self) -> Observation:
        """Say what the body held; call once the body has ended or was closed.

        Calling it again returns the same observation.
        """
        if self._result is None:
            self._conclude()
            fields = self._fields
            self._result = Observation(
                model=fields.model,
                response_id=fields.response_id,
                usage=fields.usage,
                streamed=self._streamed,
                error=fields.error,
            )
        return self._result

    def _start(self, content_type: str | None, content_encoding: str | None) -> None:
        media_type = (content_type or "").partition(";")[0].strip().lower()
        self._streamed = media_type == "text/event-stream"
        if self._streamed:
            self._reader = EventStream(self._fields)
        elif media_type == "application/json" or media_type.endswith("+json"):
            self._reader = _JsonBody(self._fields)
        else:
            return

        self._decoder = make_decoder(content_encoding)
        if self._decoder is None:
            self._stop(f"unsupported content-encoding {content_encoding!r}")

    def _conclude(self) -> None:
        reader, decoder = self._reader, self._decoder
        if reader is None or decoder is None:
            return
        self._reader = None
        try:
            data = decoder.flush()
        except Exception as exc:
            self._stop(f"cannot decode {self._encoding!r} body: {describe(exc)}")
            return
        try:
            reader.feed(data)
            reader.finish()
        except Exception as exc:
            self._stop(f"cannot read body: {describe(exc)}")

    def _stop(self, reason: str) -> None:
        # Drop whatever was kept so that a failed body holds no memory.
        self._fields.fail(reason)
        self._reader = None


class _Reader(Protocol):
    def feed(self, data: bytes) -> None: ...
    def finish(self) -> None: ...


class _JsonBody:
    """A JSON document, parsed once it is complete.

    Up to ``_BODY_CAP`` decoded bytes are kept. Past that (embeddings for
    thousands of inputs get there) only the first ``_HEAD_SIZE`` and the last
    ``_TAIL_SIZE`` bytes are kept, and ``finish()`` falls back to picking the
    fields out of those two pieces; see ``_salvage``.
    """

    __slots__ = ("_chunks", "_fields", "_head", "_size", "_tail")

    def __init__(self, fields: Fields) -> None:
        self._fields = fields
        self._chunks: list[bytes] = []
        self._size = 0
        self._head: bytes | None = None
        self._tail = bytearray()

    def feed(self, data: bytes) -> None:
        if self._head is not None:
            self._keep_tail(data)
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > _BODY_CAP:
            body = b"".join(self._chunks)
            self._chunks = []
            self._head = body[:_HEAD_SIZE]
            self._tail = bytearray(body[-_TAIL_SIZE:])

    def finish(self) -> None:
        if self._head is not None:
            _salvage(self._head, bytes(self._tail[-_TAIL_SIZE:]), self._fields)
            return

        body = b"".join(self._chunks)
        self._chunks = []
        if not body or body.isspace():
            self._fields.fail("empty body")
            return
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            self._fields.fail("invalid JSON")
            return
        if isinstance(document, dict):
            self._fields.take(document)
        else:
            self._fields.fail("JSON body is not an object")

    def _keep_tail(self, data: bytes) -> None:
        self._tail += data
        if len(self._tail) > 2 * _TAIL_SIZE:
            del self._tail[:-_TAIL_SIZE]


_STRING = r'"(?:[^"\\]++|\\.)*+"'
# A string cut off by the end of the head counts as one token, so that the
# scan stays linear instead of retrying from every escaped quote inside it.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\Z)|[\[\]{}]')
_STRING_VALUE = re.compile(r"\s*:\s*(" + _STRING + ")")
_USAGE_OBJECT = re.compile(r'"usage"\s*:\s*(?=\{)')
_JSON = json.JSONDecoder()


def _salvage(head: bytes, tail: bytes, fields: Fields) -> None:
    """Pick model, id and usage out of the two ends of an over-long document.

    This is a fallback, right for the shapes the API returns rather than for
    any JSON. Model and id are taken from the top level of the head when they
    are there (OpenAI puts them first), otherwise from their last mention in
    the tail (Azure sorts keys, so they follow the long ``choices``, and
    embeddings put ``model`` after ``data``). Usage is the last ``"usage"``
    object in the tail, which is where every shape puts it. A key inside a
    string cannot be mistaken for one, as its quotes would be escaped.
    """
    head_text = head.decode("utf-8", "replace")
    tail_text = tail.decode("utf-8", "replace")
    top = _top_level_strings(head_text)
    fields.model = name(top.get("model") or _last_string(tail_text, "model"))
    fields.response_id = name(top.get("id") or _last_string(tail_text, "id"))
    usage = _last_usage(tail_text)
    if usage is not None:
        fields.take({"usage": usage})


def _top_level_strings(text: str) -> dict[str, str]:
    # Tracks nesting over whole string tokens, so brackets inside strings do
    # not count; a string cut off at the end of the head just ends the scan.
    found: dict[str, str] = {}
    depth = 0
    for token in _TOKEN.finditer(text):
        lexeme = token.group()
        if lexeme in ("{", "["):
            depth += 1
        elif lexeme in ("}", "]"):
            depth -= 1
        elif depth == 1 and lexeme in ('"model"', '"id"'):
            value = _STRING_VALUE.match(text, token.end())
            if value is not None:
                found.setdefault(lexeme[1:-1], _string(value.group(1)))
    return found


def _last_string(text: str, key: str) -> str | None:
    pattern = re.compile(re.escape(f'"{key}"') + _STRING_VALUE.pattern)
    values = pattern.findall(text)
    return _string(values[-1]) if values else None


def _string(lexeme: str) -> str:
    try:
        value = json.loads(lexeme)
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


def _last_usage(text: str) -> object:
    for match in reversed(list(_USAGE_OBJECT.finditer(text))):
        try:
            return _JSON.raw_decode(text, match.end())[0]
        except ValueError:
            continue
    return None
