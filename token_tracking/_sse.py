"""Server-sent events of chat, completions and Responses streams, read as
the chunks arrive."""

from __future__ import annotations

import orjson

from ._fields import Fields

_LINE_CAP = 4 * 1024 * 1024

_LF, _CR = 0x0A, 0x0D
_TERMINAL_EVENTS = frozenset(
    (b"response.completed", b"response.incomplete", b"response.failed")
)


class EventStream:
    """Server-sent events, read line by line as the chunks arrive.

    Lines end with LF, CRLF or a lone CR, and a chunk may end anywhere, even
    between CR and LF or inside a multi-byte character (lines stay bytes
    until a JSON payload is parsed whole). Comments, ``id:`` and ``retry:``
    lines carry nothing we need and are skipped. A line or event longer than
    ``_LINE_CAP`` is dropped and reported rather than buffered.
    """

    __slots__ = (
        "_after_cr",
        "_data",
        "_data_size",
        "_dropping",
        "_event",
        "_fields",
        "_line",
        "_line_size",
    )

    def __init__(self, fields: Fields) -> None:
        self._fields = fields
        self._line: list[bytes] = []
        self._line_size = 0
        self._dropping = False
        self._after_cr = False
        self._event = b""
        # The event's data lines, "data:" prefix included until it is parsed.
        self._data: list[bytes] = []
        self._data_size = 0

    def feed(self, data: bytes) -> None:
        if self._whole_event(data):
            return
        if self._after_cr and data:
            # The previous chunk ended with CR; a LF here finishes that line.
            self._after_cr = False
            if data[0] == _LF:
                data = data[1:]
        if not data:
            return

        # bytes.splitlines breaks at LF, CRLF and CR alone, and nothing else.
        lines = data.splitlines()
        last = data[-1]
        self._after_cr = last == _CR
        rest = b"" if last in (_LF, _CR) else lines.pop()
        if lines and (self._line or self._dropping):
            self._complete_first(lines)
        for line in lines:
            if line.startswith(b"data:"):
                self._data.append(line)
                self._data_size += len(line)
                if self._data_size > _LINE_CAP:
                    self._drop_event()
            elif line:
                self._take_field(line)
            elif self._data:
                self._dispatch()
            else:
                self._event = b""
        if rest:
            self._hold(rest)

    def _whole_event(self, data: bytes) -> bool:
        """Take a chunk that is exactly one ``data:`` line and its blank line,
        as servers send events, without splitting it into lines."""
        if (
            self._line
            or self._data
            or self._after_cr
            or not data.startswith(b"data: ")
            or not data.endswith(b"\n\n")
            or data.find(b"\n") != len(data) - 2
            or b"\r" in data
            or len(data) > _LINE_CAP
        ):
            return False
        self._data = [data[:-2]]
        self._dispatch()
        return True

    def finish(self) -> None:
        # A body cut short loses its last blank line; an event that is whole
        # but unterminated still counts, as its tokens were spent.
        if self._line and not self._dropping:
            self.feed(b"\n")
        self._line = []
        if self._data:
            self._dispatch()

    def _complete_first(self, lines: list[bytes]) -> None:
        if self._dropping:
            self._dropping = False
            del lines[0]
        else:
            self._line.append(lines[0])
            lines[0] = b"".join(self._line)
            self._line = []
            self._line_size = 0

    def _hold(self, piece: bytes) -> None:
        if self._dropping:
            return
        self._line.append(piece)
        self._line_size += len(piece)
        if self._line_size > _LINE_CAP:
            self._line = []
            self._line_size = 0
            self._dropping = True
            self._fields.fail("event stream line over 4 MiB; skipped")

    def _drop_event(self) -> None:
        self._data = []
        self._data_size = 0
        self._fields.fail("event stream event over 4 MiB; skipped")

    def _take_field(self, line: bytes) -> None:
        if line.startswith(b"event:"):
            self._event = line[7:] if line.startswith(b"event: ") else line[6:]
        elif line == b"data":
            self._data.append(b"data:")

    def _dispatch(self) -> None:
        lines, event = self._data, self._event
        self._data, self._data_size, self._event = [], 0, b""
        fields = self._fields
        # Parsing every chunk would cost more than all the rest of the work.
        # Once model and id are known, only Responses terminal events and
        # chunks whose "usage" is not null can change the outcome; the bytes
        # test cannot miss a real "usage" key, because inside a JSON string
        # its quotes would be escaped.
        if (
            fields.model is not None
            and fields.response_id is not None
            and event not in _TERMINAL_EVENTS
            and not _has_usage(lines[0] if len(lines) == 1 else b"".join(lines))
        ):
            return

        payload = b"\n".join(
            line[6:] if line.startswith(b"data: ") else line[5:] for line in lines
        )
        if payload and payload != b"[DONE]":
            self._parse(payload)

    def _parse(self, payload: bytes) -> None:
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._fields.fail("invalid JSON in event stream")
            return
        if not isinstance(document, dict):
            return
        response = document.get("response")
        self._fields.take(response if isinstance(response, dict) else document)


def _has_usage(line: bytes) -> bool:
    # Searched from the end, where chat chunks keep their "usage".
    at = line.rfind(b'"usage"')
    while at != -1:
        if not line.startswith((b":null", b": null"), at + 7):
            return True
        at = line.rfind(b'"usage"', 0, at)
    return False
