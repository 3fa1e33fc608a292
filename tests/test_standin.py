"""The stand-in server, driven by the real openai SDK over real sockets.

Expected token counts follow the formula in ``token_tracking.testing``: four
tokens per message plus its words in, the six words of the default reply out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from openai.types import Completion, CreateEmbeddingResponse
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageParam,
)
from openai.types.responses import Response, ResponseCompletedEvent

from token_tracking.testing import DEFAULT_REPLY, StandInServer, azure_or_stand_in

API_VERSION = "2024-10-21"
# Four tokens for the message and five for its words.
HELLO: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Say hello to the stand-in"}
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[StandInServer]:
    with StandInServer(chunk_delay=0.001) as running:
        yield running


def azure(server: StandInServer, **options: Any) -> AzureOpenAI:
    return AzureOpenAI(
        azure_endpoint=server.azure_endpoint,
        api_key="test",
        api_version=API_VERSION,
        **options,
    )


def test_azure_chat_answers_with_the_served_model(server: StandInServer) -> None:
    with azure(server) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert isinstance(completion, ChatCompletion)
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.choices[0].message.content == DEFAULT_REPLY
    assert completion.model_extra is not None
    assert "prompt_filter_results" in completion.model_extra
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 9
    assert completion.usage.completion_tokens == 6
    assert completion.usage.total_tokens == 15
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0


@pytest.mark.parametrize("include_usage", [True, False])
def test_azure_chat_stream_keeps_azure_framing(
    server: StandInServer, include_usage: bool
) -> None:
    extra: dict[str, Any] = {}
    if include_usage:
        extra["stream_options"] = {"include_usage": True}
    with azure(server) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, stream=True, **extra
        )
        chunks = list(stream)

    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks)
    first, *rest = chunks
    assert (first.id, first.model, first.choices) == ("", "", [])
    text = "".join(
        c.choices[0].delta.content or ""
        for c in rest
        if c.choices and c.choices[0].delta
    )
    assert text == DEFAULT_REPLY

    finish = next(
        i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason
    )
    annotations = [c for c in chunks[finish + 1 :] if c.choices]
    assert len(annotations) == 2
    assert all(c.model == "" and c.choices[0].delta is None for c in annotations)

    with_usage = [c for c in chunks if c.usage is not None]
    if not include_usage:
        assert with_usage == []
        return
    assert with_usage == [chunks[-1]]
    assert chunks[-1].choices == []
    assert chunks[-1].model == "gpt-4o-mini-2024-07-18"
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (9, 6)


def test_openai_chat_stream_has_no_azure_chunks(server: StandInServer) -> None:
    with OpenAI(base_url=server.base_url, api_key="test") as client:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    assert {c.model for c in chunks} == {"gpt-4o-2024-08-06"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15


def test_stream_wire_framing(server: StandInServer) -> None:
    url = f"{server.azure_endpoint}/openai/deployments/gpt-4o-mini/chat/completions"
    body = {
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx2.post(url, params={"api-version": API_VERSION}, json=body)

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "x-ms-region" in response.headers
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: {") for event in events[:-2])
    # Prompt verdict, role, six words, finish, two annotations, usage.
    assert len(events) - 2 == 12

    responses_url = f"{server.base_url}/responses"
    streamed = httpx2.post(
        responses_url, json={"model": "x", "input": "a", "stream": True}
    )
    assert streamed.text.startswith("event: response.created\ndata: {")
    assert streamed.text.endswith("}\n\n")
    assert "[DONE]" not in streamed.text


def test_chunks_are_spaced_by_chunk_delay() -> None:
    url_path = "/openai/deployments/gpt-4o-mini/chat/completions"
    body = {"messages": HELLO, "stream": True}
    with StandInServer(chunk_delay=0.01) as server:
        started = time.monotonic()
        with httpx2.stream(
            "POST", server.azure_endpoint + url_path, json=body
        ) as reply:
            chunks = iter(reply.iter_raw())
            next(chunks)
            first = time.monotonic() - started
            for _ in chunks:
                pass
        total = time.monotonic() - started

    # Eleven gaps of 10 ms between twelve events: the first one cannot have
    # waited for the rest, however slow the machine is.
    assert total - first >= 0.1


def test_azure_responses_echo_the_deployment(server: StandInServer) -> None:
    with azure(server) as client:
        response = client.responses.create(
            model="gpt-4o-mini", input="What is two plus two?", instructions="Be brief"
        )

    assert isinstance(response, Response)
    assert response.model == "gpt-4o-mini"
    assert response.output_text == DEFAULT_REPLY
    assert response.usage is not None
    assert response.usage.input_tokens == (4 + 5) + (4 + 2)
    assert response.usage.output_tokens == 6
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_openai_responses_stream_reports_reasoning(server: StandInServer) -> None:
    with OpenAI(base_url=server.base_url, api_key="test") as client:
        events = list(client.responses.create(model="gpt-5", input="Hi", stream=True))

    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds.count("response.output_text.delta") == 6
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    assert completed.response.model == "gpt-5-2025-08-07"
    assert completed.response.output_text == DEFAULT_REPLY
    usage = completed.response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (5, 6 + 32)
    assert usage.output_tokens_details.reasoning_tokens == 32


def test_reasoning_effort_and_cache_key(server: StandInServer) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are terse"},
        {"role": "user", "content": "one two three four five"},
    ]
    with OpenAI(base_url=server.base_url, api_key="test") as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            reasoning_effort="low",
            prompt_cache_key="demo",
        )

    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == (4 + 3) + (4 + 5)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 8
    assert usage.completion_tokens == 6 + 16
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 16


def test_azure_v1_paths(server: StandInServer) -> None:
    with OpenAI(base_url=server.azure_v1_base_url, api_key="test") as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        response = client.responses.create(model="gpt-4o-mini", input="Hi there")

    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert response.model == "gpt-4o-mini"
    assert response.usage is not None
    assert response.usage.input_tokens == 4 + 2


def test_embeddings_in_base64_and_floats(server: StandInServer) -> None:
    with azure(server) as client:
        packed = client.embeddings.create(
            model="text-embedding-3-small", input=["one two", "three"]
        )
    with OpenAI(base_url=server.base_url, api_key="test") as client:
        plain = client.embeddings.create(
            model="text-embedding-ada-002",
            input="one two three",
            encoding_format="float",
        )

    assert isinstance(packed, CreateEmbeddingResponse)
    assert packed.model == "text-embedding-3-small"
    assert [item.index for item in packed.data] == [0, 1]
    assert packed.data[0].embedding == [k / 16 for k in range(1, 9)]
    assert (packed.usage.prompt_tokens, packed.usage.total_tokens) == (3, 3)
    assert plain.model == "text-embedding-ada-002-v2"
    assert plain.data[0].embedding == packed.data[0].embedding
    assert plain.usage.prompt_tokens == 3


def test_legacy_completions_plain_and_streamed(server: StandInServer) -> None:
    with azure(server) as client:
        completion = client.completions.create(
            model="gpt-4o-mini", prompt="one two three"
        )
        chunks = list(
            client.completions.create(
                model="gpt-4o-mini",
                prompt="one two three",
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    assert isinstance(completion, Completion)
    assert completion.choices[0].text == DEFAULT_REPLY
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 6)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == DEFAULT_REPLY
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 9


def test_unknown_deployment_is_404(server: StandInServer) -> None:
    with (
        azure(server, max_retries=0) as client,
        pytest.raises(openai.NotFoundError) as caught,
    ):
        client.chat.completions.create(model="no-such-deployment", messages=HELLO)

    assert caught.value.code == "DeploymentNotFound"


def test_rate_limit_then_success_is_retried(
    server: StandInServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(429, retry_after=0.01)
    with (
        caplog.at_level(logging.DEBUG, logger="token_tracking"),
        azure(server, max_retries=2) as client,
    ):
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert completion.usage is not None
    assert completion.usage.total_tokens == 15
    assert server.requests_seen == 2
    assert [r for r in caplog.records if r.name.startswith("token_tracking")] == []


def test_rate_limit_body_and_headers(server: StandInServer) -> None:
    server.fail_next(429, 2, retry_after=1.5)
    with (
        azure(server, max_retries=0) as client,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    plain = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    with plain, pytest.raises(openai.RateLimitError) as openai_caught:
        plain.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    headers = caught.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("2", "1500")
    assert caught.value.response.text.startswith('{"error":{"code":"429","message": ')
    assert openai_caught.value.code == "rate_limit_exceeded"


def test_gzip_bodies_are_decoded_by_the_sdk() -> None:
    server = StandInServer(gzip=True)
    with server, OpenAI(base_url=server.base_url, api_key="test") as client:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO
        )
        completion = raw.parse()

    assert raw.headers["content-encoding"] == "gzip"
    assert completion.choices[0].message.content == DEFAULT_REPLY
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 9


def test_html_error_page(server: StandInServer) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    server.fail_next(500, body=page)
    client = azure(server, max_retries=0)
    with client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert caught.value.status_code == 500
    assert caught.value.response.headers["content-type"].startswith("text/html")
    assert caught.value.response.content == page


@pytest.mark.anyio
async def test_async_azure_chat_stream(server: StandInServer) -> None:
    async with AsyncAzureOpenAI(
        azure_endpoint=server.azure_endpoint, api_key="test", api_version=API_VERSION
    ) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15


@pytest.mark.anyio
async def test_async_openai_responses(server: StandInServer) -> None:
    async with AsyncOpenAI(base_url=server.base_url, api_key="test") as client:
        response = await client.responses.create(model="o4-mini", input="Hi")

    assert response.model == "o4-mini-2025-04-16"
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 32
    assert [item.type for item in response.output] == ["reasoning", "message"]


def test_stop_is_idempotent_and_closes_the_socket() -> None:
    server = StandInServer().start()
    url = server.base_url + "/chat/completions"
    with httpx2.Client() as client:
        assert client.post(url, json={"model": "m", "messages": []}).status_code == 200
        server.stop()
        server.stop()
        with pytest.raises(httpx2.TransportError):
            client.post(url, json={"model": "m", "messages": []})


def test_fail_next_rejects_success_statuses() -> None:
    server = StandInServer()
    with pytest.raises(ValueError, match="400-599"):
        server.fail_next(200)
    with pytest.raises(RuntimeError, match="start"):
        _ = server.base_url


def test_azure_or_stand_in_prefers_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://mine.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "secret")
    with azure_or_stand_in() as found:
        assert found == ("https://mine.openai.azure.com", "secret")

    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    with azure_or_stand_in() as (endpoint, key):
        assert endpoint.startswith("http://127.0.0.1:")
        reply = httpx2.post(
            f"{endpoint}/openai/deployments/gpt-4o-mini/chat/completions",
            json={"messages": HELLO},
        )
        assert reply.status_code == 200 and key == "stand-in-key"
