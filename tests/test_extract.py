from __future__ import annotations

import ast
import gzip
import random
import zlib
from collections.abc import Callable, Iterable

import brotli
import orjson
import pytest
import zstandard
from wire import DIRECTORY, Interaction, load, names

from token_tracking import _extract
from token_tracking._extract import BodyObserver, Observation
from token_tracking._usage import Usage

SSE = "text/event-stream; charset=utf-8"
JSON = "application/json"
MiB = 1024 * 1024


def usage(
    input_tokens: int,
    output_tokens: int,
    total_tokens: int,
    *,
    cached: int = 0,
    reasoning: int = 0,
) -> Usage:
    return Usage(input_tokens, output_tokens, total_tokens, cached, reasoning)


# What each recorded body says, read off the files by hand.
EXPECTED: dict[str, tuple[str | None, str | None, Usage | None]] = {
    "01a[0]": (
        "gpt-35-turbo",
        "chatcmpl-9HpbZPf84KZFiQG6fdY0KVtIwHyIa",
        usage(15, 24, 39),
    ),
    "01b[0]": (
        "gpt-4.1-mini-2025-04-14",
        "chatcmpl-DPTBPFex9gNfhQomVPDMpJpvviisr",
        usage(16, 24, 40),
    ),
    "01b[1]": (
        "gpt-4.1-mini-2025-04-14",
        "chatcmpl-DPTJ3RxmxPVo29BR1fahy8uU9jT5c",
        usage(16, 19, 35),
    ),
    "01c[0]": (
        "gpt-4.1-mini-2025-04-14",
        "chatcmpl-CRj28rdRKqhnTBkcKCmXlz0vReldy",
        usage(24, 342, 366),
    ),
    "01d[0]": (
        "gpt-4o-2024-11-20",
        "chatcmpl-BAeyRj7gU6aCNSSAskAFbupBWYMIT",
        usage(14, 9, 23),
    ),
    "01e[0]": (
        "gpt-5-mini-2025-08-07",
        "chatcmpl-D3asvs1B6r63qn9otpDAXz4PItnPs",
        usage(15, 12, 27),
    ),
    "01e[1]": (
        "gpt-5-mini-2025-08-07",
        "chatcmpl-D3asyVWDmLbzG7V5KjAy3h3AKFaYD",
        usage(15, 12, 27),
    ),
    "02a[0]": (
        "gpt-5.2-2025-12-11",
        "chatcmpl-DmfZu2BjJmBGSSHpj9hWtFQYBUxYn",
        usage(12, 24, 36),
    ),
    "02b[0]": ("gpt-4-32k", "chatcmpl-ASxkLviKAQt414bmMPfpr2DfNYgKt", usage(24, 2, 26)),
    "02c[0]": ("gpt-35-turbo", "chatcmpl-9HpbaAXyt0cAnlWvI8kUAFpZt5jyQ", None),
    "02c[1]": (
        "gpt-4.1-mini-2025-04-14",
        "chatcmpl-DPTBaSsimU1JbOyrWiQNkSSfOPQE7",
        None,
    ),
    "02d[0]": (
        "gpt-4o-mini-2024-07-18",
        "chatcmpl-BuBnK8LTKUtp70pLip5ZGv7HUzYPj",
        None,
    ),
    "02f[0]": ("gpt-4o-2024-05-13", "chatcmpl-A1FOCU4vamBSxxqjaKcvADYMlwlaC", None),
    "03a[0]": (
        "gpt-3.5-turbo-0125",
        "chatcmpl-BDA7OXz2jBwkfgOdBQkzMJhMeV4oq",
        usage(13, 21, 34),
    ),
    "03b[0]": (
        "gpt-3.5-turbo-0125",
        "chatcmpl-BDA7NsqzvZlObxjeBtas2VM8zS9L7",
        usage(13, 20, 33),
    ),
    "03c[0]": (
        "gpt-4o-2024-08-06",
        "chatcmpl-BpJBM4XqgLRpLxmTeun39ESCNhQwb",
        usage(1420, 100, 1520, cached=1280),
    ),
    "03d[0]": (
        "gpt-4o-mini-2024-07-18",
        "chatcmpl-ChZNa5AVXUvGOZAleY7FgQlVr6bxn",
        usage(23, 8, 31),
    ),
    "04a[0]": (
        "gpt-5-nano-2025-08-07",
        "resp_68a4627a67d08197b48766a2208844fe0da1a7bf2012633f",
        usage(11, 327, 338, reasoning=320),
    ),
    "04a[1]": (
        "gpt-5-nano-2025-08-07",
        "resp_01f7ba91862c63a00069cbcbe348a48190a5460340c4f07e8a",
        usage(11, 131, 142, reasoning=64),
    ),
    "04b[0]": (
        "gpt-4.1-nano-2025-04-14",
        "resp_0fef0f8a68937870006911e9ecf124819491634b434678464a",
        usage(18, 79, 97),
    ),
    "04b[1]": (
        "gpt-4.1-nano-2025-04-14",
        "resp_0a5e72c4d8eb43c50069cbcbf7fa78819b82d7e42163ef3bd0",
        usage(18, 80, 98),
    ),
    "04c[0]": (
        "gpt-5.4",
        "resp_036b62cf8c9abbe6006a6771240b088193b20bf84ec3e66e67",
        usage(18, 5, 23),
    ),
    "04d[0]": (
        "gpt-4o-mini",
        "resp_0f97d91745cbcb7800690c2173ed6c8190b8bf38c99682c3e3",
        usage(16, 11, 27),
    ),
    "04e[0]": (
        "gpt-4o-mini",
        "resp_0ef4c09315bcd6d800690c2178339c819086d42064c371fd62",
        usage(16, 11, 27),
    ),
    "04f[0]": (
        "gpt-4o-2024-08-06",
        "resp_6866ce1f61ec819c93434cbeced9b5550e67800fb44be4fd",
        usage(1515, 8, 1523, cached=1390),
    ),
    "04f[1]": (
        "gpt-4o-2024-08-06",
        "resp_6866cf894080819eb7bfe6d71ac9b5f60f7302bc38f74547",
        usage(1515, 8, 1523, cached=1390),
    ),
    "05a[0]": ("text-embedding-ada-002-v2", None, usage(8, 0, 8)),
    "05b[0]": ("text-embedding-3-large", None, usage(8, 0, 8)),
    "05b[1]": (None, None, None),
    "05c[0]": ("ada", None, usage(4, 0, 4)),
    "06a[0]": (None, None, None),
    "06a[1]": (None, None, None),
    "06a[2]": (None, None, None),
    "06a[3]": (None, None, None),
    "06c[0]": (None, None, None),
    # Recorded without a Content-Type, so the body is not looked at.
    "06c[1]": (None, None, None),
    # Content filter stopped the answer: response.incomplete, all counts 0.
    "06d[0]": (
        "gpt-4o-mini",
        "resp_08b66ad004bbed2200690c21b4f418819695f911fe4ece6e7f",
        usage(0, 0, 0),
    ),
    "08a[0]": ("davinci-002", "cmpl-8wq42D1Socatcl1rCmgYZOFX7dFZw", usage(8, 16, 24)),
    "08a[1]": (
        "davinci:2023-07-21-v2",
        "cmpl-DPTCqSW5oGE1IAOmuxDfCvEbIdboc",
        usage(8, 16, 24),
    ),
    "08a[2]": ("davinci:2023-07-21-v2", "cmpl-DPTNxIXAXxBkAGbGYmPZJY4zeJWB6", None),
    "08b[0]": ("gpt-35-turbo", "cmpl-80yXLPWze5qul39qHFOlO1j7VViFv", usage(16, 20, 36)),
    "09a[0]": (
        "gpt-5-nano-2025-08-07",
        "chatcmpl-C6EJeKZdEaC0VeeKH3lWwJBjCTcpd",
        usage(11, 203, 214, reasoning=192),
    ),
    "09a[1]": (
        "gpt-5-nano-2025-08-07",
        "chatcmpl-DPTNHVVTKaRSnC4yW1RxDaPLKtlbj",
        usage(11, 138, 149, reasoning=128),
    ),
    "09a[2]": (
        "o3-mini-2025-01-31",
        "chatcmpl-Dr3KNfXKBS1oDOrhqYDuLYdjX9PM4",
        usage(7, 87, 94, reasoning=64),
    ),
    "09b[0]": (
        "gpt-5-mini-2025-08-07",
        "chatcmpl-D2TbnJgLHhjqRVqTBgrgHRPC8JJrS",
        usage(56, 1320, 1376, reasoning=832),
    ),
}

INTERACTIONS = {i.name: i for name in names() for i in load(name)}


def content_type(interaction: Interaction) -> str | None:
    # 02f is a body without headers; it was recorded from an Azure stream.
    if interaction.status is None:
        return SSE
    return interaction.header("Content-Type")


STREAMS = [
    n for n, i in INTERACTIONS.items() if "event-stream" in (content_type(i) or "")
]


def observe(
    chunks: Iterable[bytes],
    content_type: str | None = JSON,
    encoding: str | None = None,
) -> Observation:
    observer = BodyObserver(content_type, encoding)
    for chunk in chunks:
        observer.feed(chunk)
    return observer.finish()


def replay(
    interaction: Interaction, chunks: Iterable[bytes] | None = None
) -> Observation:
    if chunks is None:
        chunks = [interaction.wire_body()]
    return observe(
        chunks, content_type(interaction), interaction.header("Content-Encoding")
    )


def expected(name: str) -> Observation:
    model, response_id, counts = EXPECTED[name]
    streamed = name in STREAMS
    return Observation(model, response_id, counts, streamed, None)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def sse(*events: dict[str, object] | str) -> bytes:
    lines = [
        f"data: {event}\n\n"
        if isinstance(event, str)
        else f"data: {orjson.dumps(event).decode()}\n\n"
        for event in events
    ]
    return "".join(lines).encode()


# --- the recordings ---------------------------------------------------------


@pytest.mark.parametrize("name", names())
def test_recordings_load_byte_for_byte(name: str) -> None:
    # Each file ends a body with a repr of its first 300 and last 200
    # characters, written when the body was collected; the loader must agree.
    text = (DIRECTORY / f"{name}.txt").read_text(encoding="utf-8")
    marker = "framing repr (first 300 / last 200 chars): "
    reprs = [
        line.removeprefix(marker)
        for line in text.splitlines()
        if line.startswith(marker)
    ]
    interactions = load(name)

    assert interactions
    assert len(reprs) in (0, len(interactions))
    for interaction, line in zip(interactions, reprs, strict=False):
        head, tail = (ast.literal_eval(part) for part in line.split("  ...  "))
        body = interaction.body.decode()
        assert (body[:300], body[-200:]) == (head, tail)


def test_every_recording_has_an_expectation() -> None:
    assert set(INTERACTIONS) == set(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_whole_body(name: str) -> None:
    assert replay(INTERACTIONS[name]) == expected(name)


def condensed(body: bytes) -> bytes:
    """Keep the first and last events of a long stream.

    Model and id come from the first events, usage from the last; the middle
    repeats the same kind of chunk, so a stream made of both ends is a
    faithful and much shorter test case. Responses events are long, and
    response.created and the terminal event are all that count there.
    """
    keep = 1 if body.startswith(b"event: response.created") else 2
    events = body.split(b"\n\n")
    if len(events) <= 2 * keep + 1:
        return body
    return b"\n\n".join(events[:keep] + events[-keep - 1 :])


@pytest.mark.parametrize("name", STREAMS)
def test_stream_one_byte_at_a_time(name: str) -> None:
    body = INTERACTIONS[name].body
    if len(body) > 50_000:
        body = condensed(body)

    assert replay(INTERACTIONS[name], pieces(body, 1)) == expected(name)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_split_in_two_at_every_boundary(name: str) -> None:
    interaction = INTERACTIONS[name]
    body = condensed(interaction.body)
    kind = content_type(interaction)
    want = expected(name)
    assert observe([body], kind) == want

    for cut in range(1, len(body)):
        assert observe([body[:cut], body[cut:]], kind) == want, cut


@pytest.mark.parametrize(
    "name",
    [n for n, i in INTERACTIONS.items() if i.header("Content-Encoding") == "gzip"],
)
@pytest.mark.parametrize("size", [1, 13, 4096])
def test_recorded_gzip_bodies_in_small_chunks(name: str, size: int) -> None:
    interaction = INTERACTIONS[name]

    assert replay(interaction, pieces(interaction.wire_body(), size)) == expected(name)


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd,
    "gzip, br": lambda data: brotli.compress(gzip.compress(data)),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", ["04a[0]", "09a[0]", "02a[0]", "04e[0]"])
def test_other_encodings_in_small_chunks(encoding: str, name: str) -> None:
    interaction = INTERACTIONS[name]
    encoded = ENCODINGS[encoding](interaction.body)

    result = observe(pieces(encoded, 11), content_type(interaction), encoding)

    assert result == expected(name)


# --- stream rules -------------------------------------------------------------


def test_azure_empty_first_chunk_and_annotations_do_not_overwrite() -> None:
    # 02f: empty model/id first, then the answer, then annotation chunks
    # with "model": "" and "id": "" after finish_reason.
    assert replay(INTERACTIONS["02f[0]"]).model == "gpt-4o-2024-05-13"

    body = sse(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "prompt_filter_results": [],
        },
        {
            "id": "chatcmpl-1",
            "model": "gpt-4o-2024-05-13",
            "choices": [],
            "usage": None,
        },
        {"id": "other", "model": "other", "choices": [], "usage": {"prompt_tokens": 5}},
        {"id": "", "model": "", "choices": [{"content_filter_offsets": {}}]},
        "[DONE]",
    )

    assert observe([body], SSE) == Observation(
        "gpt-4o-2024-05-13", "chatcmpl-1", usage(5, 0, 5), True, None
    )


def test_usage_may_come_in_any_chunk_and_the_latest_wins() -> None:
    body = sse(
        {"id": "c1", "model": "m", "usage": None},
        {
            "id": "c1",
            "model": "m",
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        },
        {"id": "c1", "model": "m", "usage": None},
        {
            "id": "c1",
            "model": "m",
            "usage": {"prompt_tokens": 9, "completion_tokens": 4},
        },
        {"id": "c1", "model": "m", "usage": None, "choices": []},
        "[DONE]",
    )

    assert observe([body], SSE).usage == usage(9, 4, 13)


def test_usage_in_the_first_chunk_is_read() -> None:
    body = sse(
        {"id": "c1", "model": "m", "usage": {"prompt_tokens": 2, "total_tokens": 2}}
    )

    assert observe([body], SSE).usage == usage(2, 0, 2)


def test_usage_null_with_a_space_is_not_usage() -> None:
    body = sse({"id": "c1", "model": "m"}) + b'data: {"id": "c1", "usage": null}\n\n'

    assert observe([body], SSE) == Observation("m", "c1", None, True, None)


@pytest.mark.parametrize(
    "event", ["response.completed", "response.incomplete", "response.failed"]
)
def test_responses_terminal_events(event: str) -> None:
    response = {"id": "resp_1", "model": "gpt-5", "usage": None}
    final = {
        **response,
        "status": event.split(".")[1],
        "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
    }
    body = (
        b"event: response.created\n"
        + sse({"type": "response.created", "response": response})
        + b"event: response.output_text.delta\n"
        + sse({"type": "response.output_text.delta", "delta": "hi"})
        + f"event: {event}\n".encode()
        + sse({"type": event, "response": final})
    )

    assert observe(pieces(body, 5), SSE) == Observation(
        "gpt-5", "resp_1", usage(7, 3, 10), True, None
    )


def test_responses_stream_without_event_lines() -> None:
    # A proxy that keeps only the data lines must not hide the usage.
    body = INTERACTIONS["04e[0]"].body
    data_only = b"\n".join(
        line for line in body.split(b"\n") if not line.startswith(b"event:")
    )

    assert observe(pieces(data_only, 100), SSE) == expected("04e[0]")


def test_failed_response_without_usage() -> None:
    response = {"id": "resp_1", "model": "gpt-5", "usage": None, "status": "failed"}
    body = b"event: response.failed\n" + sse(
        {"type": "response.failed", "response": response}
    )

    assert observe([body], SSE) == Observation("gpt-5", "resp_1", None, True, None)


def to_line_ends(body: bytes, end: bytes) -> bytes:
    return body.replace(b"\n", end)


@pytest.mark.parametrize("end", [b"\r\n", b"\r"])
@pytest.mark.parametrize("name", ["02b[0]", "04f[1]"])
def test_crlf_and_cr_line_ends(end: bytes, name: str) -> None:
    body = to_line_ends(INTERACTIONS[name].body, end)
    want = expected(name)

    assert observe([body], SSE) == want
    assert observe(pieces(body, 1), SSE) == want


@pytest.mark.parametrize("end", [b"\r\n", b"\r"])
def test_crlf_and_cr_split_at_every_boundary(end: bytes) -> None:
    # Covers a CRLF pair split between two chunks.
    body = to_line_ends(condensed(INTERACTIONS["02b[0]"].body), end)
    want = expected("02b[0]")

    for cut in range(1, len(body)):
        assert observe([body[:cut], body[cut:]], SSE) == want, cut


def test_field_spellings_comments_and_unknown_lines() -> None:
    body = (
        b": keep-alive\n"
        b"retry: 3000\n"
        b"id: 1\n"
        b'data:{"id":"c1","model":"m","usage":null}\n\n'
        b"event:message\n"
        b"data\n"
        b"\n"
        b"nonsense without a colon\n"
        b'data:{"id":"c1","usage":\n'
        b'data: {"prompt_tokens":4,"completion_tokens":2}}\n'
        b"\n"
        b"data:[DONE]\n\n"
    )

    assert observe(pieces(body, 3), SSE) == Observation(
        "m", "c1", usage(4, 2, 6), True, None
    )


def test_multibyte_characters_split_across_chunks() -> None:
    body = sse(
        {
            "id": "c1",
            "model": "m",
            "choices": [{"delta": {"content": "—é😄"}}],
            "usage": None,
        },
        {"id": "c1", "model": "m", "usage": {"prompt_tokens": 3}},
    )

    assert observe(pieces(body, 1), SSE).usage == usage(3, 0, 3)


def test_unterminated_last_event_still_counts() -> None:
    body = sse({"id": "c1", "model": "m"}) + b'data: {"usage": {"prompt_tokens": 8}}'

    assert observe([body], SSE).usage == usage(8, 0, 8)


def test_only_the_events_that_matter_are_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[bytes] = []
    real = orjson.loads

    def counting(data: bytes) -> object:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(orjson, "loads", counting)

    for name in ["09b[0]", "04b[0]"]:
        parsed.clear()
        assert replay(INTERACTIONS[name]) == expected(name)
        assert len(parsed) <= 3, name


# --- non-streamed JSON over the size cap --------------------------------------


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    # The fallback reads the same at any cap; a small one keeps tests quick.
    monkeypatch.setattr(_extract, "_BODY_CAP", 256 * 1024)
    return 256 * 1024


def big_text(size: int) -> str:
    # Text that looks like keys but sits inside a string, where its quotes
    # are escaped, plus plenty of brackets.
    filler = 'say "model": "fake", "id": "fake", "usage": {"prompt_tokens": 1} [{}] é'
    return filler * (size // len(filler) + 1)


def test_over_the_cap_openai_order(small_cap: int) -> None:
    document = {
        "id": "chatcmpl-big",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"message": {"content": big_text(2 * small_cap)}}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 9_000_000,
            "total_tokens": 9_000_010,
        },
    }
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2)

    result = observe(pieces(body, 100_000))

    assert result == Observation(
        "gpt-4o", "chatcmpl-big", usage(10, 9_000_000, 9_000_010)
    )


def test_over_the_cap_azure_order(small_cap: int) -> None:
    # Azure sorts keys: the long "choices" come before "id" and "model".
    document = {
        "choices": [
            {
                "message": {
                    "content": big_text(2 * small_cap),
                    "tool_calls": [{"id": "call_1"}],
                }
            }
        ],
        "created": 1,
        "id": "chatcmpl-azure",
        "model": "gpt-4.1-mini-2025-04-14",
        "object": "chat.completion",
        "usage": {"completion_tokens": 5, "prompt_tokens": 6, "total_tokens": 11},
    }
    body = orjson.dumps(document)

    result = observe(pieces(gzip.compress(body, 1), 64 * 1024), JSON, "gzip")

    assert result == Observation(
        "gpt-4.1-mini-2025-04-14", "chatcmpl-azure", usage(6, 5, 11)
    )


def test_over_the_cap_embeddings() -> None:
    # At the real cap: a thousand vectors of floats are past 16 MiB.
    vector = orjson.dumps({"object": "embedding", "embedding": [0.0123456789] * 1536})
    body = (
        b'{"object": "list", "data": ['
        + b",".join([vector] * 1200)
        + b'], "model": "text-embedding-3-small",'
        + b' "usage": {"prompt_tokens": 9000, "total_tokens": 9000}}'
    )
    assert len(body) > _extract._BODY_CAP

    result = observe(pieces(body, MiB))

    assert result == Observation("text-embedding-3-small", None, usage(9000, 0, 9000))


def test_over_the_cap_responses_object(small_cap: int) -> None:
    document = {
        "id": "resp_big",
        "object": "response",
        "model": "gpt-5",
        "output": [
            {
                "id": "msg_1",
                "type": "message",
                "content": [{"text": big_text(2 * small_cap)}],
            }
        ],
        "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        "metadata": {},
    }
    body = orjson.dumps(document)

    assert observe([body]) == Observation("gpt-5", "resp_big", usage(3, 4, 7))


# --- bad input never raises -------------------------------------------------------


HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "error"),
    [
        (b"Internal Server Error", JSON, None, "invalid JSON"),
        (INTERACTIONS["01a[0]"].body[:-20], JSON, None, "invalid JSON"),
        (HTML, JSON, None, "invalid JSON"),
        (HTML, "text/html", None, None),
        (b"", JSON, None, "empty body"),
        (b"  \n", JSON, None, "empty body"),
        (b"[1, 2]", JSON, None, "JSON body is not an object"),
        (b"\xff\xfe{}", JSON, None, "invalid JSON"),
        (b'{"model": "m", "usage": "lots"}', JSON, None, "bad usage: usage must be"),
        (
            b'{"model": "m", "usage": {"prompt_tokens": "12"}}',
            JSON,
            None,
            "bad usage: ",
        ),
        (b'{"model": "m", "usage": {"prompt_tokens": -1}}', JSON, None, "bad usage: "),
        (
            b'{"usage": {"input_tokens": 2,'
            b' "input_tokens_details": {"cached_tokens": 3}}}',
            JSON,
            None,
            "bad usage: ",
        ),
        (b"not gzip at all", JSON, "gzip", "cannot decode 'gzip' body: error: "),
        (b"{}", JSON, "xyz", "unsupported content-encoding 'xyz'"),
        (b"{}", SSE, "gzip, xyz", "unsupported content-encoding 'gzip, xyz'"),
        (b"{}", "text/plain", "xyz", None),
        (b"data: {not json}\n\n", SSE, None, "invalid JSON in event stream"),
        (
            b'data: {"id": "c", "model": "m"}\n\ndata: {"usage": [1]}\n\n',
            SSE,
            None,
            "bad usage: ",
        ),
        (b'data: {"usage": {"prompt_tokens": 1.5}}\n\n', SSE, None, "bad usage: "),
        (b"\x00\xff\xfe garbage\r\n\r\n:::\n\ndata: [1, 2]\n\n", SSE, None, None),
    ],
)
def test_bad_bodies_are_reported_not_raised(
    body: bytes, content_type: str, encoding: str | None, error: str | None
) -> None:
    result = observe(pieces(body, 7) or [b""], content_type, encoding)

    assert result.usage is None
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.startswith(error), result.error


def test_errors_do_not_quote_the_body() -> None:
    secret = b"sk-proj-SECRET"
    for body, content_type in [
        (b'{"api_key": "sk-proj-SECRET", ', JSON),
        (b"data: {sk-proj-SECRET}\n\n", SSE),
        (b"sk-proj-SECRET" * 500_000, SSE),
    ]:
        error = observe([body], content_type).error
        assert error is not None
        assert secret.decode() not in error


def test_corrupt_gzip_after_a_good_start() -> None:
    body = gzip.compress(INTERACTIONS["09a[1]"].body)
    corrupt = body[:40] + bytes(b ^ 0x5A for b in body[40:])

    result = observe(pieces(corrupt, 16), JSON, "gzip")

    assert result.usage is None
    assert result.error is not None
    assert result.error.startswith("cannot decode 'gzip' body")


def test_usage_survives_a_bad_event_in_the_stream() -> None:
    body = b"data: {oops\n\n" + INTERACTIONS["02b[0]"].body

    result = observe([body], SSE)

    assert result.usage == usage(24, 2, 26)
    assert result.error == "invalid JSON in event stream"


def test_ten_megabyte_line_without_newline_is_dropped() -> None:
    observer = BodyObserver(SSE, None)
    observer.feed(b'data: {"id": "c1", "model": "m"}\n\n')
    for _ in range(160):
        observer.feed(b"x" * 64 * 1024)
    observer.feed(b'\n\ndata: {"usage": {"prompt_tokens": 1}}\n\n')

    result = observer.finish()

    assert result.usage == usage(1, 0, 1)
    assert result.error == "event stream line over 4 MiB; skipped"


def test_event_with_endless_data_lines_is_dropped() -> None:
    line = b"data: " + b"y" * 1000 + b"\n"

    result = observe([line] * 5000 + [b"\n"], SSE)

    assert result.error == "event stream event over 4 MiB; skipped"


def test_random_garbage_never_raises() -> None:
    randomness = random.Random(1234)
    for content_type in [JSON, SSE]:
        for encoding in [None, "gzip", "deflate", "br", "zstd"]:
            for _ in range(20):
                size = randomness.randrange(0, 3000)
                body = randomness.randbytes(size)
                observe(
                    pieces(body, randomness.randrange(1, 50)), content_type, encoding
                )


def test_not_observed_content_types() -> None:
    for content_type in [
        None,
        "",
        "text/plain",
        "audio/mpeg",
        "application/octet-stream",
    ]:
        result = observe([INTERACTIONS["01a[0]"].body], content_type)
        assert result == Observation()


def test_json_content_type_variants() -> None:
    body = INTERACTIONS["01a[0]"].body
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/problem+json",
    ]:
        assert observe([body], content_type).model == "gpt-35-turbo"


def test_finish_is_idempotent_and_later_chunks_are_ignored() -> None:
    observer = BodyObserver(JSON, None)
    observer.feed(INTERACTIONS["01a[0]"].body)
    first = observer.finish()

    observer.feed(b"garbage")

    assert observer.finish() is first
    assert first.error is None


def test_feed_after_a_decoding_failure_is_ignored() -> None:
    observer = BodyObserver(JSON, "gzip")
    observer.feed(b"plain text where gzip was promised")
    observer.feed(gzip.compress(INTERACTIONS["01a[0]"].body))

    result = observer.finish()

    assert result.error is not None
    assert result.error.startswith("cannot decode 'gzip' body")
