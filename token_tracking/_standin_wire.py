"""Bodies and frames of chat, completions and embeddings, as the stand-in
server sends them; pure code, no I/O."""

from __future__ import annotations

import base64
import re
import secrets
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

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
