"""``TokenTracker``: turns one call's usage into a priced record in the ledger."""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import orjson

from ._files import days_with_journals
from ._ledger import Ledger, read_day
from ._pricing import PriceBook
from ._report import format_report
from ._usage import Usage

__all__ = ["TokenTracker"]

logger = logging.getLogger("token_tracking")

DIR_ENV = "TOKEN_TRACKING_DIR"
DEFAULT_DIR = Path("logs") / "trace_token_openai"

_warned_models: set[str] = set()
_warned_lock = threading.Lock()
_live: weakref.WeakSet[TokenTracker] = weakref.WeakSet()


class TokenTracker:
    """Records the tokens and cost of each call in a daily JSON ledger.

    Args:
        log_dir: folder of the daily files; created with its parents.
        prices: model -> price in USD per 1M tokens, e.g.
            ``{"my-model": {"input": 0.5, "output": 1.5}}``; wins over the
            ``TOKEN_TRACKING_PRICES`` file and the built-in catalogue.
        deployments: Azure deployment name -> model, for pricing responses
            that name a deployment.
        prices_file: JSON or TOML prices file; default: ``TOKEN_TRACKING_PRICES``.
        utc: date files and timestamps in UTC instead of local time.
        flush_interval: seconds between background folds of the journals into
            the daily file; longer on a day so large that a fold takes more
            than 5% of that time.
        max_held: records kept in memory while the folder cannot be written;
            past that, records are dropped and counted in ``dropped``.
        clock: returns the time of a record; for tests.

    A record is on disk, in a journal beside the daily file, before
    ``log_usage`` returns; the daily file catches up within
    ``flush_interval``, at ``flush()``, ``close()`` and at interpreter exit.
    Any number of trackers, threads and processes may share one folder.
    """

    _default: ClassVar[TokenTracker | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        *,
        prices: Mapping[str, object] | None = None,
        deployments: Mapping[str, str] | None = None,
        prices_file: str | os.PathLike[str] | None = None,
        utc: bool = False,
        flush_interval: float = 1.0,
        max_held: int = 100_000,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.prices = PriceBook(
            prices, deployments=deployments, prices_file=prices_file
        )
        self.utc = utc
        self.flush_interval = flush_interval
        self.max_held = max_held
        self._clock = clock or ((lambda: datetime.now(UTC)) if utc else datetime.now)
        self.dropped = 0
        self._start()
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # Marked failing, so that the calls that cannot be journaled now
            # add no second ERROR, and recovery is reported.
            self._failing = True
            logger.error(
                "cannot create log_dir %s (%s); keeping up to %s records in "
                "memory until writing works again",
                self.log_dir,
                exc,
                self.max_held,
            )
        _live.add(self)
        self.prices.warm()

    def _start(self) -> None:
        writer = f"{os.getpid():x}-{secrets.token_hex(4)}"
        self._ledger = Ledger(self.log_dir, writer)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._fold_lock = threading.Lock()
        self._dirty: set[date] = set()
        self._held: dict[date, list[dict[str, Any]]] = {}
        self._failing = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    @classmethod
    def default(cls) -> TokenTracker:
        """The process-wide tracker, writing to ``$TOKEN_TRACKING_DIR`` or
        ``./logs/trace_token_openai``; made on first use."""
        if cls._default is None:
            with cls._default_lock:
                if cls._default is None:
                    folder = os.environ.get(DIR_ENV) or DEFAULT_DIR
                    cls._default = cls(folder)
        return cls._default

    def log_usage(
        self,
        context: str | None,
        model: str | None,
        usage: object,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one call and return its record.

        ``usage`` is an openai SDK usage object or a dict of either API's
        shape; ``extra`` adds keys after the standard ones.
        """
        if context is not None and not isinstance(context, str):
            raise TypeError(f"context must be a str or None; got {context!r}")
        if model is not None and not isinstance(model, str):
            raise TypeError(f"model must be a str or None; got {model!r}")
        return self.record(context, model, Usage.parse(usage), extra)

    def record(
        self,
        context: str | None,
        model: str | None,
        usage: Usage | None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a call already parsed; ``usage=None`` marks a call whose
        response carried no usage (a stream without ``include_usage``)."""
        now = self._clock()
        deployed = self.prices.model_for_deployment(model) if model else None
        if deployed is not None:
            # Azure's Responses API names the deployment, not the model.
            extra = {"deployment": model, **(extra or {})}
            model = deployed
        record = self._build(now, context, model, usage)
        record["id"] = f"{self._ledger.writer}-{next(self._ids)}"
        if extra:
            for key, value in extra.items():
                if key not in record:
                    record[key] = value
        self._journal(now.date(), record)
        logger.debug(
            "recorded %s: model %s, %s input and %s output tokens, cost %s",
            record["id"],
            model,
            record["input_tokens"],
            record["output_tokens"],
            record["cost_usd"],
        )
        return record

    def _build(
        self,
        now: datetime,
        context: str | None,
        model: str | None,
        usage: Usage | None,
    ) -> dict[str, Any]:
        if now.tzinfo is not None:
            now = now.replace(tzinfo=None)
        timestamp = now.isoformat(timespec="seconds")
        if usage is None:
            return {
                "timestamp": timestamp,
                "context": context,
                "model": model,
                "input_tokens": None,
                "output_tokens": None,
                "total_tokens": None,
                "cost_usd": None,
                "usage_missing": True,
            }
        cost = self.prices.cost_usd(model, usage)
        if cost is None and model:
            _warn_unpriced(model)
        return {
            "timestamp": timestamp,
            "context": context,
            "model": model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "cost_usd": cost,
            "cached_input_tokens": usage.cached_input_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        }

    def _journal(self, day: date, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        with self._lock:
            self._dirty.add(day)
            try:
                self._ledger.append(day, line)
            except OSError as exc:
                self._hold(day, record, exc)
            if self._flusher is None:
                self._start_flusher()

    def _hold(self, day: date, record: dict[str, Any], exc: OSError) -> None:
        if not self._failing:
            self._failing = True
            logger.error(
                "cannot write to %s (%s); keeping up to %s records in memory "
                "until writing works again",
                self.log_dir,
                exc,
                self.max_held,
            )
        if sum(map(len, self._held.values())) >= self.max_held:
            self.dropped += 1
            return
        self._held.setdefault(day, []).append(record)

    def _start_flusher(self) -> None:
        # Journals that a process killed on an earlier day left behind are
        # folded by the next writer to start, whatever day it writes to.
        with contextlib.suppress(OSError):
            self._dirty.update(days_with_journals(self.log_dir))
        self._stop.clear()
        self._flusher = threading.Thread(
            target=self._run_flusher, name="token_tracking-flush", daemon=True
        )
        self._flusher.start()

    def _run_flusher(self) -> None:
        pause = self.flush_interval
        while not self._stop.wait(pause):
            started = time.perf_counter()
            self._fold_dirty()
            # Folding rewrites the day's file: on a large day it waits longer
            # so that it never takes more than about 5% of the time.
            pause = max(self.flush_interval, 20 * (time.perf_counter() - started))

    def flush(self) -> None:
        """Write every record so far into its daily file."""
        self._fold_dirty()

    def _fold_dirty(self) -> None:
        with self._fold_lock:
            with self._lock:
                days, self._dirty = self._dirty, set()
            for day in sorted(days):
                self._fold(day)

    def _fold(self, day: date) -> None:
        with self._lock:
            self._ledger.seal(day)
            held = self._held.pop(day, [])
        try:
            added = self._ledger.fold(day, held)
        except Exception as exc:
            with self._lock:
                self._held[day] = held + self._held.get(day, [])
                self._dirty.add(day)
            if not self._failing:
                self._failing = True
                logger.error("cannot write the daily file for %s: %s", day, exc)
            return
        logger.debug("folded %s records into the file for %s", added, day)
        if self._failing:
            self._failing = False
            logger.warning(
                "writing to %s works again; %s records were dropped meanwhile",
                self.log_dir,
                self.dropped,
            )

    def summary(self, day: date | None = None) -> dict[str, Any]:
        """The ``summary`` of a day (today by default), journals included."""
        summary: dict[str, Any] = self.read(day)["summary"]
        return summary

    def report(self, day: date | None = None) -> str:
        """A day's ledger (today by default) as text: totals, then calls,
        tokens and cost per context and model, and the file's path."""
        return format_report(self.read(day), self.log_dir)

    def read(self, day: date | None = None) -> dict[str, Any]:
        """A day's whole ledger (today by default), journals included."""
        return read_day(self.log_dir, day or self._clock().date())

    def close(self) -> None:
        """Flush, stop the background thread and release the files. Safe to
        call twice; a tracker used again afterwards starts over."""
        with self._lock:
            flusher, self._flusher = self._flusher, None
        self._stop.set()
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()
        self._fold_dirty()
        with self._lock:
            self._ledger.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _after_fork(self) -> None:
        # The child must not append to the parent's journals nor release the
        # parent's locks: it becomes a new writer with files of its own.
        self._ledger.forget_after_fork()
        self._start()

    def __repr__(self) -> str:
        return f"TokenTracker({str(self.log_dir)!r})"


def _warn_unpriced(model: str) -> None:
    with _warned_lock:
        if model in _warned_models:
            return
        _warned_models.add(model)
    logger.warning(
        "no price known for model %r: its calls are recorded with cost_usd null. "
        "Add it with TokenTracker(prices={%r: {'input': ..., 'output': ...}}) or "
        "in the TOKEN_TRACKING_PRICES file (USD per 1M tokens)",
        model,
        model,
    )


def _close_all() -> None:
    for tracker in list(_live):
        with contextlib.suppress(Exception):
            tracker.close()


def _after_fork_in_child() -> None:
    for tracker in list(_live):
        tracker._after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
