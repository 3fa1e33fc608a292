"""The daily file's content, kept so that adding records costs what they cost.

The file is indented JSON whose ``details`` hold one record a line::

    {
      "date": "03-12-2026",
      "summary": {
        "total_calls": 2,
        ...
      },
      "details": [
        {"timestamp":"2026-12-03T10:00:00","context":"Step 1",...},
        {"timestamp":"2026-12-03T10:00:02","context":"Step 2",...}
      ]
    }

Writers only ever append to ``details``, so a ``Day`` keeps the bytes of the
records it has seen and, when another process has written the file since,
reads only the lines that process added. Rewriting the file then costs a
write of its bytes, not a parse and a serialisation of the whole day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from ._pricing import COST_DECIMALS

logger = logging.getLogger("token_tracking")

_UNITS = 10**COST_DECIMALS

_OPEN = b',\n  "details": [\n'
_INDENT = b"    "
_SEPARATOR = b",\n"
_CLOSE = b"\n  ]\n}\n"


class LedgerFormatError(ValueError):
    """A daily file that is not valid JSON in the ledger's format."""


@dataclass
class Totals:
    """Sums over details; costs in whole units of 1e-10 USD, summed exactly."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_units: int = 0
    unpriced: int = 0

    def add(self, detail: Any) -> None:
        """Count one detail; raise ``LedgerFormatError``, changing nothing,
        if it is not one."""
        if not isinstance(detail, dict):
            raise LedgerFormatError("a detail is not a JSON object")
        tokens_in = _tokens(detail, "input_tokens")
        tokens_out = _tokens(detail, "output_tokens")
        cost = detail.get("cost_usd")
        if cost is not None and (
            isinstance(cost, bool) or not isinstance(cost, int | float)
        ):
            raise LedgerFormatError(f"cost_usd is {cost!r}, not a number")

        self.calls += 1
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        if cost is None:
            self.unpriced += 1
        else:
            # Costs are written with at most COST_DECIMALS decimals, so the
            # nearest whole unit is the exact value that was written.
            self.cost_units += round(cost * _UNITS)

    def summary(self) -> dict[str, Any]:
        return {
            "total_calls": self.calls,
            "total_input_tokens": self.input_tokens,
            "total_output_tokens": self.output_tokens,
            "total_cost_usd": float(Decimal(self.cost_units).scaleb(-COST_DECIMALS)),
            "currency": "USD",
            "unpriced_calls": self.unpriced,
        }


def _tokens(detail: dict[str, Any], key: str) -> int:
    value = detail.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise LedgerFormatError(f"{key} is {value!r}, not a whole number")
    return value


@dataclass
class Day:
    """A day's file as this writer last read or wrote it."""

    day: date
    body: bytearray = field(default_factory=bytearray)
    ids: set[str] = field(default_factory=set)
    totals: Totals = field(default_factory=Totals)
    signature: tuple[int, int, int] | None = None

    def add(self, records: Iterable[Any]) -> int:
        """Append the records whose id is new, in timestamp order; return
        how many were added. A record that is not one is skipped."""
        fresh = {}
        for record in records:
            record_id = record.get("id") if isinstance(record, dict) else None
            if record_id in self.ids or (record_id is not None and record_id in fresh):
                continue
            fresh[record_id if isinstance(record_id, str) else object()] = record
        added = 0
        for key, record in sorted(fresh.items(), key=_timestamp):
            try:
                self._append(record, orjson.dumps(record))
            except (LedgerFormatError, TypeError) as exc:
                logger.warning("skipping a record that is not one: %s", exc)
                continue
            if isinstance(key, str):
                self.ids.add(key)
            added += 1
        return added

    def _append(self, record: Any, line: bytes) -> None:
        self.totals.add(record)
        if self.body:
            self.body += _SEPARATOR
        self.body += _INDENT
        self.body += line

    def render(self) -> list[bytes | bytearray]:
        """The file's bytes, in pieces."""
        head = {"date": f"{self.day:%d-%m-%Y}", "summary": self.totals.summary()}
        start = orjson.dumps(head, option=orjson.OPT_INDENT_2)[:-2]
        if not self.body:
            return [start, b',\n  "details": []\n}\n']
        return [start, _OPEN, self.body, _CLOSE]

    def document(self) -> dict[str, Any]:
        """The file's content as Python objects."""
        head = {"date": f"{self.day:%d-%m-%Y}", "summary": self.totals.summary()}
        details = orjson.loads(b"[" + self.body + b"]")
        return {**head, "details": details}


def _timestamp(item: tuple[object, Any]) -> str:
    record = item[1]
    return str(record.get("timestamp", "")) if isinstance(record, dict) else ""


def load(raw: bytes, day: date, known: Day | None) -> Day:
    """Read a daily file's bytes; raise ``LedgerFormatError`` if it is not one.

    When ``known`` is what this writer last saw of the file and the file
    still starts with it, only the lines added since are parsed.
    """
    if known is not None:
        grown = _grown(raw, known)
        if grown is not None:
            return grown
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LedgerFormatError(f"not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("details"), list):
        raise LedgerFormatError("no 'details' list at the top level")

    state = Day(day)
    for detail in document["details"]:
        state._append(detail, orjson.dumps(detail))
        record_id = detail.get("id")
        if isinstance(record_id, str):
            state.ids.add(record_id)
    return state


def _grown(raw: bytes, known: Day) -> Day | None:
    """``known`` plus the records another writer appended, or None when the
    file is not ``known`` grown by whole lines."""
    start = raw.find(_OPEN)
    if start < 0 or not raw.endswith(_CLOSE) or not known.body:
        return None
    body = memoryview(raw)[start + len(_OPEN) : len(raw) - len(_CLOSE)]
    if body[: len(known.body)] != known.body:
        return None
    added = bytes(body[len(known.body) :])
    if added and not added.startswith(_SEPARATOR):
        return None

    state = Day(known.day, bytearray(known.body), set(known.ids))
    state.totals = Totals(**vars(known.totals))
    for line in added.split(_SEPARATOR)[1:]:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        state._append(record, line.removeprefix(_INDENT))
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            state.ids.add(record["id"])
    return state
