"""A local stand-in for Azure OpenAI and OpenAI, for demos and tests.

`StandInServer` listens on 127.0.0.1 and answers the openai SDK with the body
shapes, framing and headers that the real services send, so an application and
its token tracking can run end to end without credentials or network.

    with StandInServer() as server:
        client = AzureOpenAI(
            azure_endpoint=server.azure_endpoint,
            api_key="test",
            api_version="2024-10-21",
        )
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])

Paths starting with ``/openai/`` answer as Azure OpenAI; paths starting with
``/v1/`` answer as OpenAI.

Token counts are deterministic. A "word" is a run of non-whitespace:

* chat input: ``MESSAGE_OVERHEAD`` (4) per message plus the words of its
  content (a string, or the ``text`` of each content part);
* Responses input: the same, with a string ``input`` and ``instructions``
  each counting as one message;
* legacy completions and embeddings input: the words of each prompt or input
  string, or the length of each token array, with no overhead;
* output: the words of the reply (``DEFAULT_REPLY``, six words, unless the
  constructor says otherwise), plus reasoning tokens;
* reasoning: ``REASONING_TOKENS[effort]`` when the request names a
  ``reasoning_effort`` (chat) or ``reasoning.effort`` (Responses), or when
  the served model is a reasoning one (``o1``, ``o3``, ``gpt-5`` and so on,
  effort "medium" by default); otherwise 0;
* cached input: half the input tokens, rounded down, when the request
  carries a ``prompt_cache_key``; otherwise 0.

Reasoning and cached tokens are parts of the output and input totals, as on
the real services.

Streams (``"stream": true``) go out with chunked transfer encoding, one write
per event and ``chunk_delay`` seconds between events. Chat and legacy
completion streams are ``data: {json}`` events ending in ``data: [DONE]``;
on Azure they open with an empty chunk carrying ``prompt_filter_results``,
and chat streams follow the finish chunk with two content-filter annotation
chunks that have no delta, id or model. The usage chunk, with empty
``choices``, comes last before ``[DONE]`` and only when the request sets
``stream_options.include_usage``. Responses streams are ``event:`` plus
``data:`` pairs from ``response.created`` to ``response.completed``, which
carries the usage, with no ``[DONE]``. Non-streamed OpenAI bodies are sent
chunked, Azure ones with a Content-Length.

Limitations: one choice per request whatever ``n`` says, no tools, no
``max_tokens`` truncation, and request bodies must carry a Content-Length.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import math
import re
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = [
    "DEFAULT_DEPLOYMENTS",
    "DEFAULT_REPLY",
    "EMBEDDING_DIMENSIONS",
    "MESSAGE_OVERHEAD",
    "REASONING_TOKENS",
    "StandInServer",
]

DEFAULT_DEPLOYMENTS: Mapping[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "text-embedding-3-small": "text-embedding-3-small",
}
DEFAULT_REPLY = "Hello from the token_tracking stand-in server."
MESSAGE_OVERHEAD = 4
EMBEDDING_DIMENSIONS = 8
REASONING_TOKENS: Mapping[str, int] = {
    "none": 0,
    "minimal": 8,
    "low": 16,
    "medium": 32,
    "high": 64,
    "xhigh": 128,
}

# OpenAI answers an undated alias with the snapshot it served.
_DATED = {
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "text-embedding-ada-002": "text-embedding-ada-002-v2",
}
_REASONING_MODEL = re.compile(r"o\d|gpt-5")
_KINDS = {
    "chat/completions": "chat",
    "completions": "completions",
    "embeddings": "embeddings",
    "responses": "responses",
}
_SLASHES = re.compile(r"/{2,}")
_PIECE = re.compile(r"\s*\S+")
_FINGERPRINT = "fp_5d8c0f2a71"

_SAFE = {"filtered": False, "severity": "safe"}
_NOT_DETECTED = {"detected": False, "filtered": False}
_HARMS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_PROMPT_FILTER = [
    {
        "prompt_index": 0,
        "content_filter_results": {**_HARMS, "jailbreak": _NOT_DETECTED},
    }
]
_PROTECTED = {
    "protected_material_code": _NOT_DETECTED,
    "protected_material_text": _NOT_DETECTED,
}

_INDENT = orjson.OPT_INDENT_2
_NEWLINE = orjson.OPT_APPEND_NEWLINE
_SORTED = orjson.OPT_SORT_KEYS
# How each service lays out a non-streamed body, as recorded: Azure chat is
# compact with sorted keys, OpenAI pretty-prints, Responses bodies lack the
# final newline.
_BODY_OPTIONS = {
    ("azure", "chat"): _SORTED | _NEWLINE,
    ("azure", "completions"): _NEWLINE,
    ("azure", "embeddings"): _INDENT,
    ("azure", "responses"): _INDENT,
    ("openai", "chat"): _INDENT | _NEWLINE,
    ("openai", "completions"): _INDENT | _NEWLINE,
    ("openai", "embeddings"): _INDENT | _NEWLINE,
    ("openai", "responses"): _INDENT,
}
_DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the "
    "deployment within the last 5 minutes, please wait a moment and try again."
)


@dataclass(frozen=True)
class _Usage:
    input: int
    visible: int
    reasoning: int = 0
    cached: int = 0

    @property
    def output(self) -> int:
        return self.visible + self.reasoning

    def chat(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
            "prompt_tokens_details": {"cached_tokens": self.cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def responses(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        }

    def legacy(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
        }


def _words(text: object) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def _content_words(content: object) -> int:
    if isinstance(content, list):
        return sum(
            _words(part.get("text")) for part in content if isinstance(part, dict)
        )
    return _words(content)


def _message_tokens(messages: Iterable[object]) -> int:
    return sum(
        MESSAGE_OVERHEAD + _content_words(m.get("content") or m.get("output"))
        for m in messages
        if isinstance(m, dict)
    )


def _plain_tokens(value: object) -> int:
    if isinstance(value, str):
        return _words(value)
    if not isinstance(value, list):
        return 0
    if all(isinstance(item, int) for item in value):
        return len(value)
    return sum(_plain_tokens(item) for item in value)


def _input_tokens(kind: str, body: dict[str, Any]) -> int:
    if kind == "chat":
        return _message_tokens(body.get("messages") or [])
    if kind == "completions":
        return _plain_tokens(body.get("prompt"))
    if kind == "embeddings":
        return _plain_tokens(body.get("input"))

    given = body.get("input")
    items = [{"content": given}] if isinstance(given, str) else given or []
    if body.get("instructions"):
        items = [{"content": body["instructions"]}, *items]
    return _message_tokens(items)


def _effort(body: dict[str, Any], served: str) -> str | None:
    """The effort in force: the one asked for, else a reasoning model's default."""
    reasoning = body.get("reasoning")
    asked = body.get("reasoning_effort") or (
        reasoning.get("effort") if isinstance(reasoning, dict) else None
    )
    if isinstance(asked, str):
        return asked
    return "medium" if _REASONING_MODEL.match(served) else None


def _count(kind: str, body: dict[str, Any], effort: str | None, reply: str) -> _Usage:
    tokens = _input_tokens(kind, body)
    if kind == "embeddings":
        return _Usage(tokens, 0)
    if kind == "completions":
        return _Usage(tokens, _words(reply))

    reasoning = 0
    if effort is not None:
        reasoning = REASONING_TOKENS.get(effort, REASONING_TOKENS["medium"])
    cached = tokens // 2 if body.get("prompt_cache_key") else 0
    return _Usage(tokens, _words(reply), reasoning, cached)


@dataclass(frozen=True)
class _Call:
    """One routed request: which service answers, for what, with what."""

    flavour: str
    kind: str
    body: dict[str, Any]
    model: str
    reply: str
    usage: _Usage
    effort: str | None
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def azure(self) -> bool:
        return self.flavour == "azure"

    @property
    def pieces(self) -> list[str]:
        return _PIECE.findall(self.reply)

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


def _new_id(prefix: str, size: int = 29) -> str:
    return prefix + secrets.token_hex(size)[:size]


def _sse(payload: dict[str, Any], options: int = 0) -> bytes:
    return b"data: " + orjson.dumps(payload, option=options) + b"\n\n"


def _chat_body(call: _Call) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": call.reply,
        "refusal": None,
        "annotations": [],
    }
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": "stop",
    }
    body: dict[str, Any] = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": call.created,
        "model": call.model,
        "choices": [choice],
        "usage": call.usage.chat(),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }
    if call.azure:
        choice["content_filter_results"] = {**_HARMS, **_PROTECTED}
        body["prompt_filter_results"] = _PROMPT_FILTER
    return body


def _chat_frames(call: _Call) -> list[bytes]:
    options = _SORTED if call.azure else 0
    head: dict[str, Any] = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": call.created,
        "model": call.model,
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }
    # With include_usage every chunk says "usage": null until the last one.
    tail = {"usage": None} if call.include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None, filters: object) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if call.azure:
            choice["content_filter_results"] = filters
        return _sse({**head, "choices": [choice], **tail}, options)

    frames = [chunk({"role": "assistant", "content": "", "refusal": None}, None, {})]
    frames += [chunk({"content": piece}, None, _HARMS) for piece in call.pieces]
    frames.append(chunk({}, "stop", {}))
    if call.azure:
        frames = [_azure_prompt_frame(), *frames, *_azure_annotations(call)]
    if call.include_usage:
        usage = {**head, "choices": [], "usage": call.usage.chat()}
        frames.append(_sse(usage, options))
    return [*frames, b"data: [DONE]\n\n"]


def _azure_prompt_frame() -> bytes:
    # Azure opens every stream with its prompt filter verdict in an
    # otherwise empty chunk: no id, no model, no choices.
    empty = {"choices": [], "created": 0, "id": "", "model": "", "object": ""}
    return _sse({**empty, "prompt_filter_results": _PROMPT_FILTER}, _SORTED)


def _azure_annotations(call: _Call) -> list[bytes]:
    # Azure's asynchronous content filter reports on the completion after
    # finish_reason, in chunks that carry no delta, id or model.
    offsets = {"check_offset": 0, "start_offset": 0, "end_offset": len(call.reply)}
    empty = {"created": 0, "id": "", "model": "", "object": ""}
    return [
        _sse({**empty, "choices": [_annotation(offsets, results)]}, _SORTED)
        for results in (_HARMS, _PROTECTED)
    ]


def _annotation(offsets: dict[str, int], results: object) -> dict[str, Any]:
    return {
        "content_filter_offsets": offsets,
        "content_filter_results": results,
        "finish_reason": None,
        "index": 0,
    }


def _completion_body(call: _Call, text: str, finish: str | None) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "text": text,
        "index": 0,
        "logprobs": None,
        "finish_reason": finish,
    }
    body: dict[str, Any] = {
        "id": _new_id("cmpl-"),
        "object": "text_completion",
        "created": call.created,
        "model": call.model,
        "choices": [choice],
    }
    if call.azure:
        choice["content_filter_results"] = _HARMS
        body["prompt_filter_results"] = _PROMPT_FILTER
    return body


def _completion_frames(call: _Call) -> list[bytes]:
    head = _completion_body(call, "", None)
    head.pop("prompt_filter_results", None)
    choice = head.pop("choices")[0]

    def chunk(text: str, finish: str | None) -> bytes:
        return _sse(
            {**head, "choices": [{**choice, "text": text, "finish_reason": finish}]}
        )

    frames = [chunk(piece, None) for piece in call.pieces]
    frames.append(chunk("", "stop"))
    if call.azure:
        frames.insert(0, _azure_prompt_frame())
    if call.include_usage:
        frames.append(_sse({**head, "choices": [], "usage": call.usage.legacy()}))
    return [*frames, b"data: [DONE]\n\n"]


def _embedding_body(call: _Call) -> dict[str, Any]:
    given = call.body.get("input")
    count = 1
    # A list of ints is one input already split into tokens.
    if isinstance(given, list) and not all(isinstance(i, int) for i in given):
        count = len(given)
    as_base64 = call.body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(i, as_base64)}
        for i in range(count)
    ]
    usage = {"prompt_tokens": call.usage.input, "total_tokens": call.usage.input}
    return {"object": "list", "data": data, "model": call.model, "usage": usage}


def _vector(index: int, as_base64: bool) -> list[float] | str:
    # Sixteenths are exact in float32, so both encodings decode to these values.
    values = [(index + k + 1) / 16 for k in range(EMBEDDING_DIMENSIONS)]
    if not as_base64:
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _response_object(
    call: _Call, rid: str, output: list[dict[str, Any]], *, done: bool
) -> dict[str, Any]:
    body = call.body
    return {
        "id": rid,
        "object": "response",
        "created_at": call.created,
        "status": "completed" if done else "in_progress",
        "background": False,
        **({"content_filters": None} if call.azure else {}),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": call.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": call.effort, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": call.usage.responses() if done else None,
        "user": None,
        "metadata": {},
    }


def _output_items(call: _Call) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The reasoning item, if any, and the message item of a finished reply."""
    part = {
        "type": "output_text",
        "annotations": [],
        "logprobs": [],
        "text": call.reply,
    }
    message = {
        "id": _new_id("msg_", 48),
        "type": "message",
        "status": "completed",
        "content": [part],
        "role": "assistant",
    }
    if call.usage.reasoning == 0:
        return [], message
    return [{"id": _new_id("rs_", 48), "type": "reasoning", "summary": []}], message


def _responses_body(call: _Call) -> dict[str, Any]:
    before, message = _output_items(call)
    return _response_object(call, _new_id("resp_", 48), [*before, message], done=True)


def _responses_frames(call: _Call) -> list[bytes]:
    rid = _new_id("resp_", 48)
    before, message = _output_items(call)
    started = _response_object(call, rid, [], done=False)
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
    ]
    for index, item in enumerate(before):
        events.append(
            ("response.output_item.added", {"output_index": index, "item": item})
        )
        events.append(
            ("response.output_item.done", {"output_index": index, "item": item})
        )
    events += _message_events(call, message, len(before))
    finished = _response_object(call, rid, [*before, message], done=True)
    events.append(("response.completed", {"response": finished}))
    return [
        f"event: {name}\n".encode() + _sse({"type": name, "sequence_number": n, **data})
        for n, (name, data) in enumerate(events)
    ]


def _message_events(
    call: _Call, message: dict[str, Any], index: int
) -> list[tuple[str, dict[str, Any]]]:
    where = {"item_id": message["id"], "output_index": index, "content_index": 0}
    part = message["content"][0]
    opened = {**message, "status": "in_progress", "content": []}
    deltas = [
        ("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
        for piece in call.pieces
    ]
    return [
        ("response.output_item.added", {"output_index": index, "item": opened}),
        ("response.content_part.added", {**where, "part": {**part, "text": ""}}),
        *deltas,
        ("response.output_text.done", {**where, "text": call.reply, "logprobs": []}),
        ("response.content_part.done", {**where, "part": part}),
        ("response.output_item.done", {"output_index": index, "item": message}),
    ]


@dataclass(frozen=True)
class _Route:
    path: str
    flavour: str
    kind: str | None
    deployment: str | None = None


def _route(target: str) -> _Route:
    # Some clients build "//openai/..." from a base URL with a trailing slash.
    path = _SLASHES.sub("/", urlsplit(target).path).rstrip("/")
    if path.startswith("/openai/deployments/"):
        deployment, _, action = path.removeprefix("/openai/deployments/").partition("/")
        kind = _KINDS.get(action) if action != "responses" else None
        return _Route(path, "azure", kind, deployment)
    if path == "/openai/responses":
        return _Route(path, "azure", "responses")
    if path.startswith("/openai/"):
        return _Route(path, "azure", _KINDS.get(path.removeprefix("/openai/v1/")))
    return _Route(path, "openai", _KINDS.get(path.removeprefix("/v1/")))


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    frames: list[bytes] | None = None
    chunked: bool = False


@dataclass(frozen=True)
class _Failure:
    status: int
    body: bytes | None
    retry_after: float | None


def _azure_headers() -> dict[str, str]:
    return {
        "apim-request-id": str(uuid.uuid4()),
        "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
        "x-content-type-options": "nosniff",
        "x-ms-region": "East US",
    }


def _openai_headers() -> dict[str, str]:
    return {
        "openai-processing-ms": "1",
        "openai-version": "2020-10-01",
        "x-content-type-options": "nosniff",
        "x-request-id": _new_id("req_", 32),
    }


def _success_headers(call: _Call, deployment: str) -> dict[str, str]:
    if not call.azure:
        return {
            **_openai_headers(),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-limit-tokens": "10000000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-remaining-tokens": str(10_000_000 - call.usage.input),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }
    return {
        **_azure_headers(),
        "azureml-model-session": "d20250101000000-stand-in",
        "x-accel-buffering": "no",
        "x-ms-deployment-name": deployment,
        "x-ms-rai-invoked": "true",
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-limit-tokens": "1000000",
        "x-ratelimit-remaining-requests": "999",
        "x-ratelimit-remaining-tokens": str(1_000_000 - call.usage.input),
        "x-request-id": str(uuid.uuid4()),
    }


def _error(flavour: str, status: int, message: str, code: str | None = None) -> _Reply:
    if flavour == "azure":
        # Azure's recorded error bodies are compact but for the space after
        # "message":, and give the status as a string code.
        body = (
            b'{"error":{"code":'
            + orjson.dumps(code or str(status))
            + b',"message": '
            + orjson.dumps(message)
            + b"}}"
        )
        headers = _azure_headers()
    else:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        if status == 429:
            kind, code = "requests", "rate_limit_exceeded"
        error = {"message": message, "type": kind, "param": None, "code": code}
        body = orjson.dumps({"error": error}, option=_INDENT | _NEWLINE)
        headers = _openai_headers()
    return _Reply(status, {**headers, "content-type": "application/json"}, body)


def _deployment_not_found() -> _Reply:
    error = {
        "type": "invalid_request_error",
        "code": "DeploymentNotFound",
        "message": _DEPLOYMENT_NOT_FOUND,
    }
    body = orjson.dumps({"error": error}, option=_INDENT)
    return _Reply(404, {**_azure_headers(), "content-type": "application/json"}, body)


def _failure_reply(failure: _Failure, flavour: str) -> _Reply:
    wait = failure.retry_after
    if failure.body is not None:
        html = failure.body.lstrip().startswith(b"<")
        kind = "text/html; charset=utf-8" if html else "application/json"
        headers = _azure_headers() if flavour == "azure" else _openai_headers()
        reply = _Reply(failure.status, {**headers, "content-type": kind}, failure.body)
    elif failure.status == 429:
        seconds = math.ceil(wait) if wait is not None else 60
        message = f"Rate limit is exceeded. Try again in {seconds} seconds."
        reply = _error(flavour, 429, message)
    else:
        reply = _error(flavour, failure.status, _phrase(failure.status))

    if wait is not None:
        # The openai SDK prefers retry-after-ms, which Azure also sends.
        reply.headers["retry-after"] = str(math.ceil(wait))
        reply.headers["retry-after-ms"] = str(round(wait * 1000))
    return reply


def _phrase(status: int) -> str:
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return f"Error {status}."


def _resolve(
    route: _Route, body: dict[str, Any], deployments: Mapping[str, str]
) -> tuple[str, str, str] | None:
    """Name the deployment, the model the answer shows, and the model served."""
    asked = str(body.get("model", ""))
    if route.flavour == "openai":
        dated = _DATED.get(asked, asked)
        return asked, dated, dated

    deployment = route.deployment or asked
    served = deployments.get(deployment)
    if served is None:
        return None
    # Azure's Responses API names the deployment where chat names the model.
    shown = deployment if route.kind == "responses" else served
    return deployment, shown, served


def _answer(
    route: _Route, body: dict[str, Any], deployments: Mapping[str, str], reply: str
) -> _Reply:
    if route.kind is None:
        message = "Resource not found"
        if route.flavour == "openai":
            message = f"Invalid URL (POST {route.path})"
        return _error(route.flavour, 404, message)
    resolved = _resolve(route, body, deployments)
    if resolved is None:
        return _deployment_not_found()

    deployment, shown, served = resolved
    effort = _effort(body, served)
    usage = _count(route.kind, body, effort, reply)
    call = _Call(route.flavour, route.kind, body, shown, reply, usage, effort)
    headers = _success_headers(call, deployment)
    if body.get("stream") is True and route.kind in _FRAMES:
        headers["content-type"] = "text/event-stream; charset=utf-8"
        return _Reply(200, headers, frames=_FRAMES[route.kind](call))

    options = _BODY_OPTIONS[(route.flavour, route.kind)]
    payload = orjson.dumps(_BODIES[route.kind](call), option=options)
    headers["content-type"] = "application/json"
    # OpenAI sends JSON chunked through its proxy; Azure sends a Content-Length.
    return _Reply(200, headers, payload, chunked=not call.azure)


def _completion_result(call: _Call) -> dict[str, Any]:
    body = _completion_body(call, call.reply, "stop")
    return {**body, "usage": call.usage.legacy()}


_BODIES = {
    "chat": _chat_body,
    "completions": _completion_result,
    "embeddings": _embedding_body,
    "responses": _responses_body,
}
_FRAMES = {
    "chat": _chat_frames,
    "completions": _completion_frames,
    "responses": _responses_frames,
}


def _gzipped(reply: _Reply) -> _Reply:
    if reply.frames is not None or reply.headers["content-type"] != "application/json":
        return reply
    headers = {**reply.headers, "content-encoding": "gzip"}
    body = gzip.compress(reply.body, mtime=0)
    return _Reply(reply.status, headers, body, chunked=True)


class _State:
    """What the request threads share: settings, the count, the failures."""

    def __init__(
        self, deployments: dict[str, str], reply: str, compress: bool, delay: float
    ) -> None:
        self.deployments = deployments
        self.reply = reply
        self.compress = compress
        self.delay = delay
        self.lock = threading.Lock()
        self.seen = 0
        self.failures: deque[_Failure] = deque()

    def answer(self, target: str, raw: bytes) -> _Reply:
        route = _route(target)
        with self.lock:
            self.seen += 1
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            return _failure_reply(failure, route.flavour)

        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _error(route.flavour, 400, "The request body is not a JSON object.")
        reply = _answer(route, body, self.deployments, self.reply)
        return _gzipped(reply) if self.compress else reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "token-tracking-stand-in"
    # Streamed frames are small writes; Nagle would hold them back.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        reply = self.server.state.answer(self.path, self.rfile.read(length))
        try:
            self._send(reply)
        except OSError:
            # The client hung up, or stop() shut the socket mid-stream.
            self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        # Silent on purpose: the package logger's messages are a tested,
        # fixed set, and request lines are noise in test output.
        return

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.frames is None and not reply.chunked:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return

        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for n, frame in enumerate(reply.frames or [reply.body]):
            if n and self.server.state.delay:
                time.sleep(self.server.state.delay)
            self.wfile.write(b"%X\r\n%s\r\n" % (len(frame), frame))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops bursts of connections from load tests.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        self.open_sockets: set[Any] = set()
        self.open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.open_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.open_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up is routine here; anything else is a bug to show.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        # Kept-alive connections would otherwise go on being served.
        with self.open_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class StandInServer:
    """A local HTTP server that answers like Azure OpenAI and OpenAI.

    Point `AzureOpenAI(azure_endpoint=server.azure_endpoint)` or
    `OpenAI(base_url=server.base_url)` at it; `azure_v1_base_url` serves
    Azure's ``/openai/v1`` form. Each request is answered on its own daemon
    thread, so one server can feed many concurrent clients and processes.

        with StandInServer(chunk_delay=0.01) as server:
            server.fail_next(429, retry_after=0.05)
            ...  # the SDK retries, and the second attempt succeeds

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        chunk_delay: Seconds to wait between two streamed events.
        gzip: Compress non-streamed JSON bodies with gzip, as OpenAI does.
        deployments: Azure deployment name to the dated model it serves;
            other deployment names answer 404 DeploymentNotFound.
        reply: The assistant text every completion answers with.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chunk_delay: float = 0.0,
        gzip: bool = False,
        deployments: Mapping[str, str] | None = None,
        reply: str = DEFAULT_REPLY,
    ) -> None:
        chosen = DEFAULT_DEPLOYMENTS if deployments is None else deployments
        self._state = _State(dict(chosen), reply, gzip, chunk_delay)
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> StandInServer:
        """Bind the socket and serve from a background thread."""
        if self._server is not None:
            raise RuntimeError("StandInServer was already started; create a new one")
        server = _Server((self._host, self._port), self._state)
        self._server, self._port = server, server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="token-tracking-stand-in",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening and kept-alive sockets.

        Calling it again, or on a server never started, does nothing.
        """
        if self._server is None or self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> StandInServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` for `AzureOpenAI`, such as http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("StandInServer has no address yet; call start() first")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for `OpenAI`, ending in ``/v1``."""
        return f"{self.azure_endpoint}/v1"

    @property
    def azure_v1_base_url(self) -> str:
        """The ``base_url`` for `OpenAI` talking to Azure's ``/openai/v1`` API."""
        return f"{self.azure_endpoint}/openai/v1"

    @property
    def requests_seen(self) -> int:
        """How many requests the server has answered, failures included."""
        with self._state.lock:
            return self._state.seen

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        body: bytes | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` instead.

        The body is the service's error JSON unless `body` gives raw bytes
        (bytes starting with ``<`` are sent as HTML). `retry_after` adds
        ``retry-after`` and ``retry-after-ms`` headers, which the openai SDK
        honours when it retries a 408, 409, 429 or 5xx answer.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error (400-599), not {status}")
        if times < 0:
            raise ValueError(f"times must be 0 or more, not {times}")
        failure = _Failure(status, body, retry_after)
        with self._state.lock:
            self._state.failures.extend([failure] * times)
