"""Whatever tracking meets, the caller gets what it would get without it.

Each case runs the same SDK call twice, through a bare client and through a
tracked one, on the same upstream, and compares what the caller saw: the
parsed result, every streamed chunk, or the exception's type and message.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from openai import OpenAI

from token_tracking import TokenTracker, track

Handler = Callable[[httpx2.Request], httpx2.Response]

CHAT_HEAD = b'{"id":"chatcmpl-1","object":"chat.completion","created":1,'
GOOD_CHAT = (
    CHAT_HEAD + b'"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
)


class _Pieces(httpx2.SyncByteStream):
    """A body from the network: pieces, then optionally a failure."""

    def __init__(self, pieces: list[bytes], fail: Exception | None = None) -> None:
        self.pieces = pieces
        self.fail = fail

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces
        if self.fail is not None:
            raise self.fail


def _reply(
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/json",
    encoding: str | None = None,
    fail: Exception | None = None,
) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        pieces = [body[i : i + 5] for i in range(0, len(body), 5)]
        headers = {"content-type": content_type}
        if encoding is not None:
            headers["content-encoding"] = encoding
        return httpx2.Response(status, headers=headers, stream=_Pieces(pieces, fail))

    return handler


def _outcome(client: OpenAI, stream: bool) -> tuple[Any, ...]:
    messages: Any = [{"role": "user", "content": "hi"}]
    try:
        result = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=stream
        )
        if stream:
            return ("ok", [chunk.model_dump(warnings=False) for chunk in result])
        return ("ok", result.model_dump(warnings=False))
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def _both(handler: Handler, tracker: TokenTracker, *, stream: bool = False) -> None:
    """Assert the tracked call's outcome equals the bare call's."""
    mock = httpx2.MockTransport(handler)
    bare = OpenAI(api_key="k", max_retries=0, http_client=httpx2.Client(transport=mock))
    tracked_http = track(httpx2.Client(transport=mock), tracker=tracker)
    tracked = OpenAI(api_key="k", max_retries=0, http_client=tracked_http)
    assert _outcome(tracked, stream) == _outcome(bare, stream)


SSE = "text/event-stream"
CHUNK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
)

CASES: dict[str, tuple[Handler, bool]] = {
    "not JSON": (_reply(b"this is not json"), False),
    "truncated JSON": (_reply(GOOD_CHAT[:-17]), False),
    "HTML page with 200": (
        _reply(b"<html><body>Gateway</body></html>", content_type="text/html"),
        False,
    ),
    "HTML error page": (
        _reply(b"<html>502 Bad Gateway</html>", status=502, content_type="text/html"),
        False,
    ),
    "usage with strings": (
        _reply(GOOD_CHAT.replace(b'"prompt_tokens":5', b'"prompt_tokens":"five"')),
        False,
    ),
    "negative usage": (
        _reply(GOOD_CHAT.replace(b'"prompt_tokens":5', b'"prompt_tokens":-5')),
        False,
    ),
    "usage not an object": (
        _reply(GOOD_CHAT.replace(b'"usage":{', b'"usage":[{').replace(b"}}", b"}]}")),
        False,
    ),
    "garbage SSE lines": (
        _reply(
            b": comment\n\ndata: {broken\n\nevent: ???\ndata: \x00\xff\n\n"
            + CHUNK
            + b"data: [DONE]\n\n",
            content_type=SSE,
        ),
        True,
    ),
    "SSE usage with wrong types": (
        _reply(
            CHUNK + b'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
            b'"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":-1,'
            b'"completion_tokens":"x"}}\n\ndata: [DONE]\n\n',
            content_type=SSE,
        ),
        True,
    ),
    "stream cut by a network error": (
        _reply(CHUNK * 3, content_type=SSE, fail=httpx2.ReadError("connection reset")),
        True,
    ),
    "gzip header on a plain body": (_reply(GOOD_CHAT, encoding="gzip"), False),
    "unknown content-encoding": (_reply(GOOD_CHAT, encoding="x-custom"), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_caller_result_is_unchanged(
    case: str, tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="token_tracking")
    handler, stream = CASES[case]
    _both(handler, tracker, stream=stream)
    for record in caplog.records:
        assert "hi" not in record.getMessage().split(), "no content in logs"


def test_a_bad_usage_body_records_nothing_billed(tracker: TokenTracker) -> None:
    _both(CASES["negative usage"][0], tracker)
    tracker.flush()
    assert tracker.read()["details"] == []


def test_transport_exceptions_pass_through_unchanged(tracker: TokenTracker) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    _both(refuse, tracker)


def test_full_disk_never_fails_a_call_and_logs_one_error(
    tracker: TokenTracker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def full(day: Any, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tracker._ledger, "append", full)
    caplog.set_level(logging.WARNING, logger="token_tracking")
    for _ in range(5):
        _both(_reply(GOOD_CHAT), tracker)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "No space left" in errors[0].getMessage()
    # The records wait in memory and reach the file once writing works.
    monkeypatch.undo()
    tracker.flush()
    assert len(tracker.read()["details"]) == 5


def test_an_exception_inside_the_sink_is_swallowed_and_logged(
    tracker: TokenTracker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("sink exploded")

    monkeypatch.setattr(tracker, "record", broken)
    caplog.set_level(logging.WARNING, logger="token_tracking")
    for _ in range(3):
        _both(_reply(GOOD_CHAT), tracker)
    failures = [r for r in caplog.records if "sink exploded" in r.getMessage()]
    assert len(failures) == 1, "rate-limited to one line a minute"


def test_logs_never_carry_keys_or_headers(
    tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk-secret-key-123"
    client = OpenAI(
        api_key=secret,
        max_retries=0,
        http_client=track(
            httpx2.Client(transport=httpx2.MockTransport(_reply(b"not json"))),
            tracker=tracker,
        ),
    )
    _outcome(client, stream=False)
    tracker.flush()
    assert caplog.records
    for record in caplog.records:
        if record.name.startswith("token_tracking"):
            assert secret not in record.getMessage()
            assert "authorization" not in record.getMessage().lower()
