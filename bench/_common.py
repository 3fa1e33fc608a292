"""What the benchmarks share: interleaved rounds, tables, verdicts, Azure bodies.

Every benchmark measures its variants side by side in one process and one
run, a round of each in turn, and reports medians: on a small shared machine
the load of other work moves absolute times by tens of percent from one
second to the next, and only figures taken close together compare.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from token_tracking import TokenTracker

DEPLOYMENT = "gpt-4o-mini"
MODEL = "gpt-4o-mini-2024-07-18"
API_VERSION = "2024-10-21"
AZURE_ENDPOINT = "https://bench.openai.azure.com"
CHAT_PATH = f"/openai/deployments/{DEPLOYMENT}/chat/completions"
MESSAGES = [
    {"role": "system", "content": "You answer questions about medicines."},
    {"role": "user", "content": "What is the usual adult dose of Ludox 200mg?"},
]
USAGE = {
    "completion_tokens": 31,
    "completion_tokens_details": {"reasoning_tokens": 0},
    "prompt_tokens": 34,
    "prompt_tokens_details": {"cached_tokens": 0},
    "total_tokens": 65,
}

_SAFE = {"filtered": False, "severity": "safe"}
_HARMS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_CLEAR = {"detected": False, "filtered": False}
_PROMPT_FILTERS = [
    {"content_filter_results": {**_HARMS, "jailbreak": _CLEAR}, "prompt_index": 0}
]
_REPLY = (
    "The usual adult dose is one 200 mg tablet twice a day with food, but "
    "follow the leaflet and ask your pharmacist before changing it."
)


@dataclass(frozen=True)
class Verdict:
    """One target of one benchmark and what this run measured against it."""

    benchmark: str
    target: str
    measured: str
    passed: bool

    @property
    def mark(self) -> str:
        return "PASS" if self.passed else "MISS"


def settle(tracker: TokenTracker) -> None:
    """Wait until the tracker's price catalogue is loaded.

    A tracker imports the catalogue on a background thread, a second or so
    of CPU that would otherwise land in the first timed rounds. Pricing a
    model that only the catalogue knows waits for that import to finish.
    """
    tracker.prices.lookup("gpt-4.1")


def interleave(
    variants: Mapping[str, Callable[[], float]], rounds: int
) -> dict[str, list[float]]:
    """Run each variant once a round and return every variant's samples.

    A variant is a callable that does one round of work and returns what it
    measured. The order flips every round (A B, B A, A B ...) so that a
    machine slowly getting busier favours no variant; a collection before
    each round keeps one variant's garbage from being collected in another's.
    What exists before the first round (the SDK, the price catalogue) is
    frozen out of the collector first, or each of those collections would
    take a fifth of a second.
    """
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for number in range(rounds):
        for name in order if number % 2 == 0 else reversed(order):
            gc.collect()
            samples[name].append(variants[name]())
    return samples


def paired_ratio(samples: Mapping[str, Sequence[float]], name: str, base: str) -> float:
    """The median, over rounds, of ``name``'s sample divided by ``base``'s.

    The two samples of one round were taken a moment apart, so their ratio
    is free of the load that shifts whole rounds; the median drops the
    rounds that a burst of other work hit on one side only.
    """
    pairs = zip(samples[name], samples[base], strict=True)
    return statistics.median(mine / theirs for mine, theirs in pairs)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column to the left, figures to the right."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return "  ".join((first, *rest)).rstrip()

    rule = "-" * len(line(header))
    return "\n".join((title, rule, line(header), rule, *map(line, rows), rule))


def verdict_lines(verdicts: Sequence[Verdict]) -> str:
    return "\n".join(
        f"{v.mark}  {v.benchmark}: {v.measured} (target {v.target})" for v in verdicts
    )


def markdown(verdicts: Sequence[Verdict]) -> str:
    """The Performance table for the README."""
    rows = [
        "| Benchmark | Target | Measured | Result |",
        "|---|---|---|---|",
        *(
            f"| {v.benchmark} | {v.target} | {v.measured} | {v.mark} |"
            for v in verdicts
        ),
    ]
    return "\n".join(rows)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def duration(seconds: float) -> str:
    """Microseconds below a millisecond, milliseconds above."""
    return us(seconds) if seconds < 1e-3 else ms(seconds)


def azure_headers(content_type: str) -> list[tuple[str, str]]:
    """Headers shaped like those Azure OpenAI sends with a chat answer."""
    return [
        ("content-type", content_type),
        ("apim-request-id", "5d0c1f0e-1b7a-4f5e-9a43-0d6f3c2b9e11"),
        ("azureml-model-session", "d20260101000000-bench"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-accel-buffering", "no"),
        ("x-content-type-options", "nosniff"),
        ("x-ms-deployment-name", DEPLOYMENT),
        ("x-ms-rai-invoked", "true"),
        ("x-ms-region", "East US"),
        ("x-ratelimit-limit-requests", "1000"),
        ("x-ratelimit-limit-tokens", "1000000"),
        ("x-ratelimit-remaining-requests", "999"),
        ("x-ratelimit-remaining-tokens", "999966"),
        ("x-request-id", "2b6f0d8e-6c1c-4a1e-8f0e-7a9d3c5b1f20"),
    ]


def _compact(document: Any) -> bytes:
    # Azure writes its bodies compact, with keys in sorted order.
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def azure_chat_body() -> bytes:
    """A non-streamed Azure chat completion, usage included."""
    choice = {
        "content_filter_results": _HARMS,
        "finish_reason": "stop",
        "index": 0,
        "logprobs": None,
        "message": {
            "annotations": [],
            "content": _REPLY,
            "refusal": None,
            "role": "assistant",
        },
    }
    body = {
        "choices": [choice],
        "created": 1767225600,
        "id": "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K1l2",
        "model": MODEL,
        "object": "chat.completion",
        "prompt_filter_results": _PROMPT_FILTERS,
        "system_fingerprint": "fp_efad92c60b",
        "usage": USAGE,
    }
    return _compact(body) + b"\n"


def azure_chat_frames() -> list[bytes]:
    """A streamed Azure chat completion asked for with ``include_usage``.

    Azure opens with a chunk holding only its prompt filter verdict, sends
    the reply a word a chunk, closes with the finish chunk, the asynchronous
    content filter's annotations and, last, the usage chunk and ``[DONE]``:
    about thirty events, one a frame.
    """
    head = {
        "created": 1767225600,
        "id": "chatcmpl-BenchA1b2C3d4E5f6G7h8I9j0K1l2",
        "model": MODEL,
        "object": "chat.completion.chunk",
        "system_fingerprint": "fp_efad92c60b",
        "usage": None,
    }
    blank = {"created": 0, "id": "", "model": "", "object": ""}

    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + _compact(payload) + b"\n\n"

    def chunk(delta: dict[str, Any], finish: str | None, filters: Any) -> bytes:
        choice = {
            "content_filter_results": filters,
            "delta": delta,
            "finish_reason": finish,
            "index": 0,
            "logprobs": None,
        }
        return event({**head, "choices": [choice]})

    words = _REPLY.split(" ")
    pieces = [words[0], *(" " + word for word in words[1:])]
    offsets = {"check_offset": 0, "end_offset": len(_REPLY), "start_offset": 0}
    return [
        event({**blank, "choices": [], "prompt_filter_results": _PROMPT_FILTERS}),
        chunk({"content": "", "refusal": None, "role": "assistant"}, None, {}),
        *(chunk({"content": piece}, None, _HARMS) for piece in pieces),
        chunk({}, "stop", {}),
        *(
            event(
                {
                    **blank,
                    "choices": [
                        {
                            "content_filter_offsets": offsets,
                            "content_filter_results": results,
                            "finish_reason": None,
                            "index": 0,
                        }
                    ],
                }
            )
            for results in (_HARMS, {"protected_material_text": _CLEAR})
        ),
        event({**head, "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]
