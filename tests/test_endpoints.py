from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

import pytest
from wire import load, names

from token_tracking._endpoints import Endpoint, classify

# Every request path recorded in tests/data/wire, with what it must give.
RECORDED = {
    "/v1/chat/completions": Endpoint("chat"),
    "/v1/completions": Endpoint("completions"),
    "/v1/embeddings": Endpoint("embeddings"),
    "/v1/responses": Endpoint("responses"),
    "/openai/deployments/openllmetry-testing/chat/completions": Endpoint(
        "chat", "openllmetry-testing"
    ),
    "/openai/deployments/gpt-4.1-mini/chat/completions": Endpoint(
        "chat", "gpt-4.1-mini"
    ),
    "/openai/deployments/gpt-4o/chat/completions": Endpoint("chat", "gpt-4o"),
    "/openai/deployments/gpt-4o-mini/chat/completions": Endpoint("chat", "gpt-4o-mini"),
    "/openai/deployments/gpt-5-nano/chat/completions": Endpoint("chat", "gpt-5-nano"),
    "/openai/deployments/gpt-5.2_2025-12-11/chat/completions": Endpoint(
        "chat", "gpt-5.2_2025-12-11"
    ),
    "/openai/deployments/test-azure-deployment/chat/completions": Endpoint(
        "chat", "test-azure-deployment"
    ),
    "/openai/deployments/test-azure-deployment/embeddings": Endpoint(
        "embeddings", "test-azure-deployment"
    ),
    "/openai/deployments/test-deployment/embeddings": Endpoint(
        "embeddings", "test-deployment"
    ),
    # dd-trace-py's recordings keep the double slash their base URL produced.
    "//openai/deployments/test-openai/chat/completions": Endpoint(
        "chat", "test-openai"
    ),
    "//openai/deployments/test-openai/completions": Endpoint(
        "completions", "test-openai"
    ),
    "/openai/responses": Endpoint("responses"),
    "/openai/v1/chat/completions": Endpoint("chat"),
    "/openai/v1/responses": Endpoint("responses"),
}


def test_every_recorded_path_is_in_the_table() -> None:
    recorded = {
        urlsplit(interaction.url).path
        for name in names()
        for interaction in load(name)
        if interaction.url is not None
    }

    assert recorded == set(RECORDED)


@pytest.mark.parametrize(("path", "expected"), RECORDED.items())
def test_recorded_paths(path: str, expected: Endpoint) -> None:
    assert classify(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/proxy/v1/chat/completions", Endpoint("chat")),
        (
            "/gateway/openai/deployments/gpt-4o/embeddings",
            Endpoint("embeddings", "gpt-4o"),
        ),
        ("/openai/v1/embeddings", Endpoint("embeddings")),
        ("/openai/v1/completions", Endpoint("completions")),
        ("/openai/deployments/legacy/completions", Endpoint("completions", "legacy")),
        (
            "/openai/deployments/my%20model/chat/completions",
            Endpoint("chat", "my model"),
        ),
        (
            "/openai/deployments/on-data/extensions/chat/completions",
            Endpoint("chat", "on-data"),
        ),
        ("/v1/chat/completions?api-version=2024-10-21", Endpoint("chat")),
        ("/v1/responses/", Endpoint("responses")),
        ("/chat/completions", Endpoint("chat")),
    ],
)
def test_other_routes_to_the_four_operations(path: str, expected: Endpoint) -> None:
    assert classify(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/v1/models",
        "/v1/files",
        "/v1/files/file-abc/content",
        "/v1/batches",
        "/v1/responses/resp_123",
        "/v1/responses/resp_123/cancel",
        "/v1/responses/resp_123/input_items",
        "/v1/responses/input_tokens",
        "/v1/chat/completions/chatcmpl-123",
        "/v1/chat/completions/chatcmpl-123/messages",
        "/v1/audio/transcriptions",
        "/v1/images/generations",
        "/openai/deployments/whisper/audio/transcriptions",
        "/openai/deployments/dall-e/images/generations",
        "/v1/chat/completionsx",
        "/v1/mycompletions",
    ],
)
def test_calls_without_usage_are_not_classified(path: str) -> None:
    assert classify(path) is None


def test_endpoint_is_immutable() -> None:
    endpoint = Endpoint("chat", "gpt-4o")

    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.kind = "embeddings"  # type: ignore[misc]
    assert not hasattr(endpoint, "__dict__")
    assert {endpoint} == {Endpoint("chat", "gpt-4o")}
