"""Token counts of one call, read from whatever shape the API or the SDK gives.

Two shapes exist on the wire. Chat completions, legacy completions and
embeddings say ``prompt_tokens`` / ``completion_tokens`` with
``prompt_tokens_details.cached_tokens`` and
``completion_tokens_details.reasoning_tokens``; the Responses API says
``input_tokens`` / ``output_tokens`` with ``input_tokens_details`` and
``output_tokens_details``. The openai SDK wraps both in pydantic models whose
attributes carry the same names, so one reader serves dicts and objects alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Usage"]

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call.

    ``cached_input_tokens`` is the part of ``input_tokens`` served from the
    prompt cache; ``reasoning_tokens`` is the part of ``output_tokens`` spent
    on reasoning. Both are already included in their totals.
    """

    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    @classmethod
    def parse(cls, usage: object) -> Usage:
        """Read a usage dict or an openai SDK usage object.

        Raises ``TypeError`` for anything that is neither, and ``ValueError``
        for counts that are missing, not integers, or negative.
        """
        if type(usage) is dict:
            parsed = _plain(usage)
            if parsed is not None:
                return parsed
        if isinstance(usage, Usage):
            return usage
        if usage is None or isinstance(usage, str | bytes | int | float):
            raise TypeError(_expected(usage))

        if _field(usage, "input_tokens") is not _MISSING:
            names = ("input_tokens", "output_tokens")
            details = ("input_tokens_details", "output_tokens_details")
        elif _field(usage, "prompt_tokens") is not _MISSING:
            names = ("prompt_tokens", "completion_tokens")
            details = ("prompt_tokens_details", "completion_tokens_details")
        else:
            raise TypeError(_expected(usage))

        input_tokens = _count(usage, names[0], required=True)
        # Embeddings report no completion tokens: their output is free.
        output_tokens = _count(usage, names[1], required=False)
        total = _count(usage, "total_tokens", required=False)
        cached = _count(_field(usage, details[0]), "cached_tokens", required=False)
        reasoning = _count(
            _field(usage, details[1]), "reasoning_tokens", required=False
        )
        if cached > input_tokens:
            raise ValueError(
                f"usage says {cached} cached tokens out of {input_tokens} input"
                " tokens; cached tokens are part of the input and cannot exceed it"
            )
        return cls(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=total or input_tokens + output_tokens,
            cached_input_tokens=cached,
            reasoning_tokens=reasoning,
        )


def _plain(usage: dict[str, Any]) -> Usage | None:
    """The usual dict of either shape, read without the general checks;
    None for anything unusual, which ``Usage.parse`` then explains."""
    if "input_tokens" in usage:
        tokens_in, tokens_out = usage["input_tokens"], usage.get("output_tokens", 0)
        cached_in = usage.get("input_tokens_details")
        reasoning_in = usage.get("output_tokens_details")
    else:
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens", 0)
        cached_in = usage.get("prompt_tokens_details")
        reasoning_in = usage.get("completion_tokens_details")
    total = usage.get("total_tokens", 0)
    cached = cached_in.get("cached_tokens", 0) if type(cached_in) is dict else 0
    reasoning = (
        reasoning_in.get("reasoning_tokens", 0) if type(reasoning_in) is dict else 0
    )
    counts = (tokens_in, tokens_out, total, cached, reasoning)
    if cached_in is not None and type(cached_in) is not dict:
        return None
    if reasoning_in is not None and type(reasoning_in) is not dict:
        return None
    if any(type(n) is not int or n < 0 for n in counts) or cached > tokens_in:
        return None
    total = total or tokens_in + tokens_out
    return Usage(tokens_in, tokens_out, total, cached, reasoning)


def _field(obj: object, name: str) -> Any:
    # Plain dicts come first: parsed bodies are dicts, and the abstract
    # Mapping check costs more than the whole lookup.
    if type(obj) is dict:
        return obj.get(name, _MISSING)
    if obj is None or obj is _MISSING:
        return _MISSING
    if isinstance(obj, Mapping):
        return obj.get(name, _MISSING)
    return getattr(obj, name, _MISSING)


def _count(obj: object, name: str, *, required: bool) -> int:
    value = _field(obj, name)
    if type(value) is int and value >= 0:
        return value
    if value is _MISSING or value is None:
        if required:
            raise ValueError(f"usage has no {name!r}; expected a token count")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"usage field {name!r} is {value!r}; expected a whole number of tokens"
        )
    if value < 0:
        raise ValueError(f"usage field {name!r} is {value}; expected 0 or more")
    return value


def _expected(usage: object) -> str:
    return (
        "usage must be an openai usage object (CompletionUsage, ResponseUsage, "
        "embeddings Usage) or a dict with 'prompt_tokens'/'completion_tokens' "
        f"or 'input_tokens'/'output_tokens'; got {type(usage).__name__}"
    )
