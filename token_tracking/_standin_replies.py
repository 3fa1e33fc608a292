"""Routing, headers and error bodies of the stand-in server."""

from __future__ import annotations

import gzip
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import orjson

from ._standin_responses import (
    _responses_body,
    _responses_frames,
)
from ._standin_wire import (
    _BODY_OPTIONS,
    _DATED,
    _DEPLOYMENT_NOT_FOUND,
    _INDENT,
    _KINDS,
    _NEWLINE,
    _SLASHES,
    _Call,
    _chat_body,
    _chat_frames,
    _completion_body,
    _completion_frames,
    _count,
    _effort,
    _embedding_body,
    _new_id,
)


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
