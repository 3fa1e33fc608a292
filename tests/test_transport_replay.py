"""Recorded OpenAI and Azure OpenAI responses, replayed through the real SDK.

Each recording is served by an httpx2 ``MockTransport`` (what openai 3.x uses)
and by respx (legacy httpx), sync and async, as a body that arrives in small
pieces, exactly as a network would deliver it. The ledger must then hold one
record with the model and token counts the recording shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
import pytest
import respx
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from wire import Interaction, load

from token_tracking import TokenTracker, track, tracking_context

# sample -> (model, input, output, cached input, reasoning); None: no usage.
EXPECTED: dict[str, tuple[str, int, int, int, int] | tuple[str, None]] = {
    "01a[0]": ("gpt-35-turbo", 15, 24, 0, 0),
    "01b[0]": ("gpt-4.1-mini-2025-04-14", 16, 24, 0, 0),
    "01c[0]": ("gpt-4.1-mini-2025-04-14", 24, 342, 0, 0),
    "01e[0]": ("gpt-5-mini-2025-08-07", 15, 12, 0, 0),
    "01e[1]": ("gpt-5-mini-2025-08-07", 15, 12, 0, 0),
    "02a[0]": ("gpt-5.2-2025-12-11", 12, 24, 0, 0),
    "02b[0]": ("gpt-4-32k", 24, 2, 0, 0),
    "02c[1]": ("gpt-4.1-mini-2025-04-14", None),
    "03a[0]": ("gpt-3.5-turbo-0125", 13, 21, 0, 0),
    "03b[0]": ("gpt-3.5-turbo-0125", 13, 20, 0, 0),
    "03c[0]": ("gpt-4o-2024-08-06", 1420, 100, 1280, 0),
    "03d[0]": ("gpt-4o-mini-2024-07-18", 23, 8, 0, 0),
    "04a[0]": ("gpt-5-nano-2025-08-07", 11, 327, 0, 320),
    "04b[0]": ("gpt-4.1-nano-2025-04-14", 18, 79, 0, 0),
    "04c[0]": ("gpt-5.4", 18, 5, 0, 0),
    "04d[0]": ("gpt-4o-mini", 16, 11, 0, 0),
    "04e[0]": ("gpt-4o-mini", 16, 11, 0, 0),
    "04f[0]": ("gpt-4o-2024-08-06", 1515, 8, 1390, 0),
    "04f[1]": ("gpt-4o-2024-08-06", 1515, 8, 1390, 0),
    "05a[0]": ("text-embedding-ada-002-v2", 8, 0, 0, 0),
    "05b[0]": ("text-embedding-3-large", 8, 0, 0, 0),
    "05c[0]": ("ada", 4, 0, 0, 0),
    "06d[0]": ("gpt-4o-mini", 0, 0, 0, 0),
    "08a[0]": ("davinci-002", 8, 16, 0, 0),
    "08b[0]": ("gpt-35-turbo", 16, 20, 0, 0),
    "09a[0]": ("gpt-5-nano-2025-08-07", 11, 203, 0, 192),
    "09a[2]": ("o3-mini-2025-01-31", 7, 87, 0, 64),
    "09b[0]": ("gpt-5-mini-2025-08-07", 56, 1320, 0, 832),
}

AZURE = "https://example-resource.openai.azure.com"
_DROPPED = {"content-length", "transfer-encoding"}


def _interaction(name: str) -> Interaction:
    code, index = name[:-3], int(name[-2])
    return load(code)[index]


def _pieces(body: bytes) -> list[bytes]:
    # Small pieces split lines and UTF-8 characters; big bodies get bigger
    # pieces to keep the test quick.
    size = max(7, len(body) // 500)
    return [body[i : i + size] for i in range(0, len(body), size)]


def _headers(recorded: Interaction) -> list[tuple[str, str]]:
    # The body is re-chunked, so the recorded framing headers no longer apply.
    return [(k, v) for k, v in recorded.headers if k.lower() not in _DROPPED]


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body that arrives piece by piece, as from a socket."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class _LegacyBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def _client_options(recorded: Interaction) -> tuple[bool, dict[str, Any]]:
    """Whether an Azure client is needed, and its constructor's arguments,
    such that the SDK builds the recorded URL's path."""
    assert recorded.url is not None
    path = urlsplit(recorded.url).path.lstrip("/")
    if path.startswith("openai/v1/"):
        return False, {"base_url": f"{AZURE}/openai/v1", "api_key": "k"}
    if path.startswith("openai/"):
        return True, {"azure_endpoint": AZURE, "api_key": "k", "api_version": "v"}
    return False, {"base_url": "https://api.openai.com/v1", "api_key": "k"}


def _call(recorded: Interaction) -> tuple[str, dict[str, Any]]:
    """The SDK method and arguments that send a request like the recorded one.

    Some recorded request bodies were cut short, so the request is rebuilt
    from the URL and the response's content type.
    """
    assert recorded.url is not None
    path = urlsplit(recorded.url).path
    model = "gpt-4o-mini"
    if "/deployments/" in path:
        # Azure puts the deployment in the path; the SDK takes it from model.
        model = path.split("/deployments/")[1].split("/")[0]
    stream = "event-stream" in (recorded.header("content-type") or "")
    if path.endswith("/chat/completions"):
        method = "chat.completions.create"
        main: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    elif path.endswith("/responses"):
        method, main = "responses.create", {"input": "hi"}
    elif path.endswith("/embeddings"):
        # The recordings hold float lists, which the SDK decodes only if asked.
        main = {"input": "hi", "encoding_format": "float"}
        method = "embeddings.create"
    else:
        method, main = "completions.create", {"prompt": "hi"}
    kwargs: dict[str, Any] = {"model": model, **main}
    if method != "embeddings.create":
        kwargs["stream"] = stream
    return method, kwargs


def _method(client: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        client = getattr(client, part)
    return client


def _check(tracker: TokenTracker, name: str) -> None:
    tracker.flush()
    details = tracker.read()["details"]
    assert len(details) == 1, details
    record = details[0]
    expected = EXPECTED[name]
    assert record["model"] == expected[0]
    assert record["context"] == f"replay {name}"
    if expected[1] is None:
        assert record["usage_missing"] is True
        assert record["input_tokens"] is None
        return
    _, tokens_in, tokens_out, cached, reasoning = expected
    assert (record["input_tokens"], record["output_tokens"]) == (tokens_in, tokens_out)
    assert record["total_tokens"] == tokens_in + tokens_out
    assert record["cached_input_tokens"] == cached
    assert record["reasoning_tokens"] == reasoning


def _sync_run(recorded: Interaction, http_client: Any) -> Any:
    azure, options = _client_options(recorded)
    client = (AzureOpenAI if azure else OpenAI)(**options, http_client=http_client)
    method, kwargs = _call(recorded)
    result = _method(client, method)(**kwargs)
    if kwargs.get("stream"):
        return [event for event in result]
    return result


async def _async_run(recorded: Interaction, http_client: Any) -> Any:
    azure, options = _client_options(recorded)
    cls = AsyncAzureOpenAI if azure else AsyncOpenAI
    client = cls(**options, http_client=http_client)
    method, kwargs = _call(recorded)
    result = await _method(client, method)(**kwargs)
    if kwargs.get("stream"):
        return [event async for event in result]
    return result


CASES = sorted(EXPECTED)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_httpx2_mock_transport(tracker: TokenTracker, name: str, mode: str) -> None:
    recorded = _interaction(name)

    def reply(request: httpx2.Request) -> httpx2.Response:
        body = _Body(_pieces(recorded.wire_body()))
        return httpx2.Response(
            recorded.status or 200, headers=_headers(recorded), stream=body
        )

    mock = httpx2.MockTransport(reply)
    with tracking_context(f"replay {name}"):
        if mode == "sync":
            result = _sync_run(
                recorded, track(httpx2.Client(transport=mock), tracker=tracker)
            )
        else:
            client = track(httpx2.AsyncClient(transport=mock), tracker=tracker)
            result = asyncio.run(_async_run(recorded, client))
    assert result
    _check(tracker, name)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_legacy_httpx_with_respx(tracker: TokenTracker, name: str, mode: str) -> None:
    recorded = _interaction(name)

    def reply(request: httpx.Request) -> httpx.Response:
        body = _LegacyBody(_pieces(recorded.wire_body()))
        return httpx.Response(
            recorded.status or 200, headers=_headers(recorded), stream=body
        )

    with respx.mock(assert_all_called=True) as router:
        router.post().mock(side_effect=reply)
        with tracking_context(f"replay {name}"):
            if mode == "sync":
                result = _sync_run(recorded, track(httpx.Client(), tracker=tracker))
            else:
                client = track(httpx.AsyncClient(), tracker=tracker)
                result = asyncio.run(_async_run(recorded, client))
    assert result
    _check(tracker, name)


@pytest.mark.parametrize("name", ["05b[1]", "06a[2]", "06a[3]", "06c[1]"])
def test_error_responses_record_nothing_and_raise_as_before(
    tracker: TokenTracker, name: str
) -> None:
    recorded = _interaction(name)

    def reply(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            recorded.status or 500,
            headers=_headers(recorded),
            content=recorded.wire_body(),
        )

    def run(http_client: httpx2.Client) -> BaseException:
        azure, options = _client_options(recorded)
        client = (AzureOpenAI if azure else OpenAI)(
            **options, http_client=http_client, max_retries=0
        )
        method, kwargs = _call(recorded)
        with pytest.raises(Exception) as caught:
            _method(client, method)(**kwargs)
        return caught.value

    bare = run(httpx2.Client(transport=httpx2.MockTransport(reply)))
    tracked = run(
        track(httpx2.Client(transport=httpx2.MockTransport(reply)), tracker=tracker)
    )
    assert type(tracked) is type(bare)
    assert str(tracked) == str(bare)
    tracker.flush()
    assert tracker.read()["details"] == []
