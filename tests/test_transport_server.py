"""The SDK against a real HTTP server on 127.0.0.1 that answers like Azure.

Streams arrive chunk by chunk with small delays; retries, abandoned streams,
concurrent tasks and the SDK's raw and streaming response wrappers all go
through a tracked client built by ``track()``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from openai import (
    AsyncAzureOpenAI,
    AzureOpenAI,
    DefaultAsyncHttpxClient,
    DefaultHttpxClient,
)

from token_tracking import TokenTracker, track, tracking_context
from token_tracking.testing import DEFAULT_REPLY, MESSAGE_OVERHEAD, StandInServer

QUESTION = [{"role": "user", "content": "What is Ludox used for?"}]
# The stand-in counts words: the message's five words, plus its overhead.
INPUT_TOKENS = MESSAGE_OVERHEAD + 5
OUTPUT_TOKENS = len(DEFAULT_REPLY.split())


@pytest.fixture(scope="module")
def server() -> Iterator[StandInServer]:
    with StandInServer(chunk_delay=0.002) as running:
        yield running


def _client(
    server: StandInServer, tracker: TokenTracker, **options: Any
) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="test",
        api_version="2024-10-21",
        http_client=track(DefaultHttpxClient(), tracker=tracker, **options),
    )


@pytest.fixture
def client(server: StandInServer, tracker: TokenTracker) -> Iterator[AzureOpenAI]:
    with _client(server, tracker) as made:
        yield made


def _async_client(server: StandInServer, tracker: TokenTracker) -> AsyncAzureOpenAI:
    return AsyncAzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="test",
        api_version="2024-10-21",
        http_client=track(DefaultAsyncHttpxClient(), tracker=tracker),
    )


def _details(tracker: TokenTracker) -> list[dict[str, Any]]:
    tracker.flush()
    details: list[dict[str, Any]] = tracker.read()["details"]
    return details


def test_plain_and_streamed_chat_are_recorded(
    client: AzureOpenAI, tracker: TokenTracker
) -> None:
    with tracking_context("plain"):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    with tracking_context("streamed"):
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=QUESTION,
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    assert reply.choices[0].message.content == DEFAULT_REPLY
    text = "".join(
        c.choices[0].delta.content or ""
        for c in chunks
        if c.choices and c.choices[0].delta
    )
    assert text == DEFAULT_REPLY
    plain, streamed = _details(tracker)
    for record, context, stream in (
        (plain, "plain", False),
        (streamed, "streamed", True),
    ):
        assert record["context"] == context
        assert record["model"] == "gpt-4o-mini-2024-07-18"
        assert record["deployment"] == "gpt-4o-mini"
        assert record["input_tokens"] == INPUT_TOKENS
        assert record["output_tokens"] == OUTPUT_TOKENS
        assert record["stream"] is stream
        assert record["cost_usd"] > 0
    assert plain["response_id"] == reply.id


def test_responses_and_embeddings(client: AzureOpenAI, tracker: TokenTracker) -> None:
    with tracking_context("responses"):
        client.responses.create(model="gpt-4o-mini", input="Summarise the leaflet")
        events = list(
            client.responses.create(model="gpt-4o-mini", input="Again", stream=True)
        )
    with tracking_context("embeddings"):
        client.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])

    assert events[-1].type == "response.completed"
    plain, streamed, embedding = _details(tracker)
    assert (plain["endpoint"], streamed["endpoint"]) == ("responses", "responses")
    assert plain["input_tokens"] == MESSAGE_OVERHEAD + 3
    assert streamed["stream"] is True and streamed["output_tokens"] == OUTPUT_TOKENS
    assert embedding["endpoint"] == "embeddings"
    assert embedding["input_tokens"] == 3 and embedding["output_tokens"] == 0


def test_retry_after_429_records_one_call(
    server: StandInServer, client: AzureOpenAI, tracker: TokenTracker
) -> None:
    before = server.requests_seen
    server.fail_next(429, times=1, retry_after=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)

    assert server.requests_seen - before == 2
    assert len(_details(tracker)) == 1


def test_server_error_then_success_records_one_call(
    server: StandInServer, client: AzureOpenAI, tracker: TokenTracker
) -> None:
    server.fail_next(500, times=1, body=b"<html><body>Bad gateway</body></html>")
    client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert len(_details(tracker)) == 1


def test_abandoned_stream_is_recorded_without_usage(
    client: AzureOpenAI, tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="token_tracking")
    with tracking_context("abandoned"):
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
        for index, _ in enumerate(stream):
            if index == 2:
                break
        stream.close()

    (record,) = _details(tracker)
    assert record["context"] == "abandoned"
    assert record["usage_missing"] is True
    assert record["model"] == "gpt-4o-mini-2024-07-18"
    assert any("include_usage" in r.getMessage() for r in caplog.records)


def test_stream_without_usage_warns_once(
    client: AzureOpenAI, tracker: TokenTracker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="token_tracking")
    for _ in range(3):
        list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            )
        )
    details = _details(tracker)
    assert len(details) == 3
    assert all(d["usage_missing"] for d in details)
    assert sum("include_usage" in r.getMessage() for r in caplog.records) == 1


def test_include_usage_option_asks_for_usage(
    server: StandInServer, tracker: TokenTracker
) -> None:
    with _client(server, tracker, include_usage=True) as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=QUESTION, stream=True
            )
        )
    (record,) = _details(tracker)
    assert record["input_tokens"] == INPUT_TOKENS
    assert record["output_tokens"] == OUTPUT_TOKENS
    # The documented cost of the option: one more chunk, with no choices.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_first_chunk_arrives_before_the_stream_ends(tracker: TokenTracker) -> None:
    with StandInServer(chunk_delay=0.03) as slow, _client(slow, tracker) as client:
        started = time.perf_counter()
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=QUESTION, stream=True
        )
        next(iter(stream))
        first = time.perf_counter() - started
        list(stream)
        total = time.perf_counter() - started
    # Frames 30 ms apart: a tracker that buffered would deliver the first
    # chunk only at the end, not some 300 ms before it.
    assert total - first >= 0.25


def test_with_raw_response_and_with_streaming_response(
    client: AzureOpenAI, tracker: TokenTracker
) -> None:
    with tracking_context("raw"):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=QUESTION
        )
        assert raw.parse().choices[0].message.content == DEFAULT_REPLY
    with tracking_context("streaming"):
        with client.chat.completions.with_streaming_response.create(
            model="gpt-4o-mini", messages=QUESTION
        ) as response:
            lines = list(response.iter_lines())
        assert lines

    raw_record, streaming_record = _details(tracker)
    assert raw_record["context"] == "raw"
    assert streaming_record["context"] == "streaming"
    assert streaming_record["input_tokens"] == INPUT_TOKENS


def test_concurrent_tasks_keep_their_labels(
    server: StandInServer, tracker: TokenTracker
) -> None:
    async def main() -> None:
        async with _async_client(server, tracker) as client:

            async def ask(n: int) -> str:
                with tracking_context(f"task {n}"):
                    stream = await client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[{"role": "user", "content": " ".join(["w"] * n)}],
                        stream=True,
                        stream_options={"include_usage": True},
                    )
                    async for _ in stream:
                        await asyncio.sleep(0)
                    return f"task {n}"

            await asyncio.gather(*(ask(n) for n in range(1, 21)))

    asyncio.run(main())
    details = _details(tracker)
    assert len(details) == 20
    for record in details:
        n = int(record["context"].split()[-1])
        assert record["input_tokens"] == MESSAGE_OVERHEAD + n


def test_gzip_bodies_are_read_and_the_caller_gets_them_decoded(
    tracker: TokenTracker,
) -> None:
    with StandInServer(gzip=True) as zipped, _client(zipped, tracker) as client:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        vectors = client.embeddings.create(
            model="text-embedding-3-small", input="a b c"
        )
    assert reply.choices[0].message.content == DEFAULT_REPLY
    assert len(vectors.data[0].embedding) > 0
    chat, embedding = _details(tracker)
    assert chat["input_tokens"] == INPUT_TOKENS
    assert embedding["input_tokens"] == 3


def test_mcp_agent_style_client_per_call_closes_cleanly(
    server: StandInServer, tracker: TokenTracker
) -> None:
    # mcp_agent builds a client per call inside `async with`, which closes the
    # http_client; a tracked client made per call must survive that.
    async def one_call() -> None:
        async with _async_client(server, tracker) as client:
            await client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)

    async def main() -> None:
        for _ in range(3):
            await one_call()

    asyncio.run(main())
    assert len(_details(tracker)) == 3
