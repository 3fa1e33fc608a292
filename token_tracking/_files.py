"""Names and low-level writes of the files in a ledger folder.

For a day whose file is ``03_12_2026_total_tokens.json`` the folder holds:

- ``03_12_2026_total_tokens.json``: the ledger itself;
- ``.03_12_2026_total_tokens.<writer>.<n>.journal``: records a writer has
  appended and not yet folded into the ledger, one JSON object a line;
- ``.03_12_2026_total_tokens.lock``: held while a writer folds that day;
- ``.03_12_2026_total_tokens.<writer>.tmp``: a ledger being written, renamed
  over the ledger when complete; one found under the day's lock is debris of
  a crash and is removed;
- ``.token_tracking.<writer>.alive``: locked by a live writer for as long as
  it runs, so that another process can tell an orphaned journal from a live
  one across Linux, macOS and Windows.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path

_SUFFIX = "_total_tokens"


def ledger_name(day: date) -> str:
    """``DD_MM_YYYY_total_tokens.json``."""
    return f"{day:%d_%m_%Y}{_SUFFIX}.json"


def _stem(day: date) -> str:
    return f"{day:%d_%m_%Y}{_SUFFIX}"


def journal_path(folder: Path, day: date, writer: str, number: int) -> Path:
    return folder / f".{_stem(day)}.{writer}.{number}.journal"


def journal_glob(day: date) -> str:
    return f".{_stem(day)}.*.journal"


def writer_of(journal: Path) -> str:
    """The writer id inside a journal's file name."""
    return journal.name.split(".")[2]


def tmp_path(folder: Path, day: date, writer: str) -> Path:
    return folder / f".{_stem(day)}.{writer}.tmp"


def tmp_glob(day: date) -> str:
    return f".{_stem(day)}.*.tmp"


def lock_path(folder: Path, day: date) -> Path:
    return folder / f".{_stem(day)}.lock"


def alive_path(folder: Path, writer: str) -> Path:
    return folder / f".token_tracking.{writer}.alive"


def days_with_journals(folder: Path) -> set[date]:
    """The days that have journals in ``folder``."""
    days = set()
    for journal in folder.glob(f".*{_SUFFIX}.*.journal"):
        stem = journal.name.split(".")[1].removesuffix(_SUFFIX)
        with contextlib.suppress(ValueError):
            days.add(datetime.strptime(stem, "%d_%m_%Y").date())
    return days


def write_durably(path: Path, pieces: list[bytes | bytearray]) -> None:
    """Write ``pieces`` to a new file and fsync it before returning."""
    with open(path, "wb") as file:
        for piece in pieces:
            file.write(piece)
        file.flush()
        os.fsync(file.fileno())


def replace_atomically(tmp: Path, target: Path, *, patience: float = 2.0) -> None:
    """Rename ``tmp`` over ``target``; a reader sees the old or the new file.

    On Windows the rename fails while another process has the target open
    (a reader, an antivirus scan), so it is retried for up to ``patience``
    seconds before the error is raised.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            os.replace(tmp, target)
            break
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder is synced (POSIX);
    # Windows cannot open a folder for this and needs no such step.
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
