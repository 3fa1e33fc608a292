"""A day's ledger as a short text report, for people."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ._files import ledger_name


def document_name(document: dict[str, Any]) -> str:
    """The file name of a ledger document, from its ``date``."""
    return ledger_name(datetime.strptime(document["date"], "%d-%m-%Y").date())


def format_report(document: dict[str, Any], folder: Path) -> str:
    """A day's ledger as text: totals, then one row per context and model."""
    path = folder / document_name(document)
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
