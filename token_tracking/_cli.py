"""``token-tracking``: show a day's ledger from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime
from pathlib import Path

from ._ledger import read_day
from ._report import format_report
from ._tracker import DEFAULT_DIR, DIR_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="token-tracking",
        description="Show the tokens and cost of a day's OpenAI calls, journals "
        "included.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get(DIR_ENV) or DEFAULT_DIR),
        help=f"folder of the daily files (default: ${DIR_ENV} or {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--date", type=_day, default=date.today(), help="DD-MM-YYYY (default: today)"
    )
    args = parser.parse_args(argv)

    print(format_report(read_day(args.dir, args.date), args.dir))
    return 0


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%d-%m-%Y").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not DD-MM-YYYY") from None


if __name__ == "__main__":
    sys.exit(main())
