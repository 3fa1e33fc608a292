"""``token-tracking``: show a day's ledger from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ._files import ledger_name
from ._ledger import read_day
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

    document = read_day(args.dir, args.date)
    print(_report(document, args.dir / ledger_name(args.date)))
    return 0


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%d-%m-%Y").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not DD-MM-YYYY") from None


def _report(document: dict[str, Any], path: Path) -> str:
    summary = document["summary"]
    lines = [
        f"{document['date']}: {summary['total_calls']} calls, "
        f"{summary['total_input_tokens']} input and "
        f"{summary['total_output_tokens']} output tokens, "
        f"${summary['total_cost_usd']:.8f}",
    ]
    rows: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal()])
    for detail in document["details"]:
        row = rows[(str(detail.get("context")), str(detail.get("model")))]
        row[0] += 1
        row[1] += detail.get("input_tokens") or 0
        row[2] += detail.get("output_tokens") or 0
        row[3] += Decimal(str(detail.get("cost_usd") or 0))
    if rows:
        lines.append(
            f"{'calls':>6} {'input':>9} {'output':>9} {'cost USD':>12}  "
            f"{'model':<26} context"
        )
    for (context, model), (calls, tokens_in, tokens_out, cost) in sorted(rows.items()):
        lines.append(
            f"{calls:>6} {tokens_in:>9} {tokens_out:>9} {cost:>12.8f}  "
            f"{model:<26} {context}"
        )
    lines.append(f"file: {path}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
