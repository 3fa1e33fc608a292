"""Bodies and event streams of the Responses API, as the stand-in server
sends them."""

from __future__ import annotations

from typing import Any

from ._standin_wire import (
    _Call,
    _new_id,
    _sse,
)


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
