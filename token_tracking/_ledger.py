"""The daily ledger: a JSON file per day, fed through per-writer journals.

Guarantees (each writer is one ``TokenTracker`` in one process):

- A record is appended to the writer's journal, one line and one ``write``
  call, before the OpenAI call it describes returns. The journal is not
  fsynced: a killed process loses nothing, a power cut may lose the last
  second.
- Folding moves journaled records into the day's JSON file under an
  inter-process lock (``filelock``: Linux, macOS and Windows): read, merge,
  write a temp file, fsync, ``os.replace``. Readers never see a half-written
  file. Every record carries an ``id``; one already in the file is not added
  again, so folding a journal twice is harmless.
- A journal left by a writer that died is folded by the next writer that
  folds that day, once the dead writer's ``.alive`` lock is free.
- Reading merges the file with every journal of the day, so what it shows is
  never behind what has been recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock, Timeout

from . import _files
from ._document import Day, LedgerFormatError, load

logger = logging.getLogger("token_tracking")


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read(path: Path, day: date, known: Day | None = None) -> Day:
    """A day's file, or an empty day when there is none yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Day(day)
    state = load(raw, day, known)
    state.signature = _signature(path)
    return state


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Records of a journal; a torn or damaged line is skipped with a WARNING.

    A last line without its newline is a record still being written by a
    live writer, or torn by a crash: it is left out.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = raw.split(b"\n")
    if lines[-1]:
        logger.warning("skipping an incomplete last line in journal %s", path.name)
    records = []
    for line in lines[:-1]:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            logger.warning("skipping a damaged line in journal %s", path.name)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class Ledger:
    """The files of one writer in one folder. Not thread-safe: the tracker
    serialises appends under its lock and folds under another."""

    def __init__(self, folder: Path, writer: str, *, lock_timeout: float = 30.0):
        self.folder = folder
        self.writer = writer
        self.lock_timeout = lock_timeout
        self._journals: dict[date, tuple[int, Path]] = {}
        self._sealed: dict[date, list[Path]] = {}
        self._numbers = 0
        self._alive: FileLock | None = None
        self._days: dict[date, Day] = {}

    def append(self, day: date, data: bytes) -> None:
        """Append journal lines for ``day``; raise ``OSError`` on failure."""
        entry = self._journals.get(day)
        if entry is None:
            entry = self._open_journal(day)
        written = os.write(entry[0], data)
        if written != len(data):
            # A full disk can take part of a line. The next record appended
            # after it would share its line and be skipped with it as damaged,
            # so this journal is sealed, torn end and all, and the next record
            # starts a new one. The caller keeps the record that failed.
            self.seal(day)
            raise OSError(f"short write to journal {entry[1].name}")

    def _open_journal(self, day: date) -> tuple[int, Path]:
        if self._alive is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            alive = FileLock(_files.alive_path(self.folder, self.writer))
            alive.acquire(timeout=0)
            self._alive = alive
        self._numbers += 1
        path = _files.journal_path(self.folder, day, self.writer, self._numbers)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        entry = (os.open(path, flags, 0o644), path)
        self._journals[day] = entry
        return entry

    def seal(self, day: date) -> list[Path]:
        """Close the day's journal so that it can be folded; later appends go
        to a new one. Returns every sealed, not yet folded journal."""
        entry = self._journals.pop(day, None)
        sealed = self._sealed.setdefault(day, [])
        if entry is not None:
            os.close(entry[0])
            sealed.append(entry[1])
        return list(sealed)

    def fold(self, day: date, held: list[dict[str, Any]]) -> int:
        """Fold sealed journals, held records and orphaned journals of ``day``
        into its file. Returns how many records were added."""
        sealed = self._sealed.get(day, [])
        lock = FileLock(_files.lock_path(self.folder, day))
        with lock.acquire(timeout=self.lock_timeout):
            for debris in self.folder.glob(_files.tmp_glob(day)):
                debris.unlink(missing_ok=True)
            state = self._load(day)
            orphans = self._orphans(day, sealed)
            records: list[Any] = [r for p in sealed for r in read_journal(p)]
            records += held
            records += [r for p in orphans for r in read_journal(p)]
            added = state.add(records)
            if added:
                self._write(state)
            for path in (*sealed, *orphans):
                path.unlink(missing_ok=True)
        self._sealed.pop(day, None)
        self._bury(orphans)
        return added

    def _load(self, day: date) -> Day:
        path = self.folder / _files.ledger_name(day)
        cached = self._days.get(day)
        if cached is not None and cached.signature == _signature(path):
            return cached
        try:
            state = _read(path, day, cached)
        except LedgerFormatError as exc:
            stamp = f"{datetime.now():%Y%m%dT%H%M%S%f}"
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            os.replace(path, aside)
            logger.error(
                "daily file %s is damaged (%s); moved it aside as %s and started "
                "a new one",
                path.name,
                exc,
                aside.name,
            )
            state = Day(day)
        self._days[day] = state
        return state

    def _write(self, state: Day) -> None:
        path = self.folder / _files.ledger_name(state.day)
        tmp = _files.tmp_path(self.folder, state.day, self.writer)
        try:
            _files.write_durably(tmp, state.render())
            _files.replace_atomically(tmp, path)
        except BaseException:
            # The cached state is ahead of the file now; read the file again.
            self._days.pop(state.day, None)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        state.signature = _signature(path)

    def _orphans(self, day: date, sealed: list[Path]) -> list[Path]:
        mine = {*sealed, *(entry[1] for entry in self._journals.values())}
        found = []
        for journal in sorted(self.folder.glob(_files.journal_glob(day))):
            writer = _files.writer_of(journal)
            if journal in mine or writer == self.writer:
                continue
            if not _is_alive(self.folder, writer):
                found.append(journal)
        return found

    def _bury(self, orphans: list[Path]) -> None:
        """Remove the .alive files of dead writers whose journals are all gone."""
        for writer in {_files.writer_of(p) for p in orphans}:
            if not any(self.folder.glob(f".*.{writer}.*.journal")):
                _files.alive_path(self.folder, writer).unlink(missing_ok=True)

    def close(self) -> None:
        """Close open journals and release the writer's ``.alive`` lock."""
        for fd, _ in self._journals.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._journals.clear()
        if self._alive is not None:
            self._alive.release()
            _files.alive_path(self.folder, self.writer).unlink(missing_ok=True)
            self._alive = None

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's descriptors without touching
        the parent's files or locks."""
        for fd, _ in self._journals.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._journals.clear()
        self._sealed.clear()
        self._alive = None


def _is_alive(folder: Path, writer: str) -> bool:
    lock = FileLock(_files.alive_path(folder, writer))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def read_day(folder: Path, day: date) -> dict[str, Any]:
    """The day's ledger as it stands, journals included, without writing.

    Journals are read before the file: a writer that folds in between has
    put those records in the file, where they are then found by id.
    """
    journals = sorted(folder.glob(_files.journal_glob(day)))
    pending = [r for p in journals for r in _read_quietly(p)]
    try:
        state = _read(folder / _files.ledger_name(day), day)
    except LedgerFormatError as exc:
        logger.warning("daily file for %s is damaged (%s); showing journals", day, exc)
        state = Day(day)
    state.add(pending)
    return state.document()


def _read_quietly(path: Path) -> list[dict[str, Any]]:
    # A live writer's journal may end in a line being written; that is not
    # damage, so this reader does not warn about it.
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for line in raw.split(b"\n")[:-1]:
        with contextlib.suppress(orjson.JSONDecodeError):
            record = orjson.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records
