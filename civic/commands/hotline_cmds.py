"""`civic hotline export --since DATE --format csv|jsonl`: the submitted work orders (app/workorder.py)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from app.analytics import cell_text
from app.workorder import Orders, WorkOrder
from archive.validate import normalize_date

COLUMNS = ("order_id", "call_id", "submitted_at", "kind", "category", "department", "summary", "places",
           "times", "documents", "line", "submitted_by")


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts is not None else ""


def row_of(order: WorkOrder) -> dict[str, str]:
    return {"order_id": order.order_id, "call_id": order.call_id, "submitted_at": _iso(order.submitted_at),
            "kind": order.kind, "category": order.category, "department": order.department,
            "summary": order.summary, "places": "；".join(order.places), "times": "；".join(order.times),
            "documents": "；".join(d["doc_id"] for d in order.documents), "line": order.line,
            "submitted_by": order.submitted_by}


def to_csv(orders: list[WorkOrder]) -> str:
    """UTF-8 with a byte-order mark (Excel reads Chinese), a header, formula-like cells quoted (as the
    analytics CSV does: app.analytics.cell_text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for order in orders:
        row = row_of(order)
        writer.writerow([cell_text(row[c], "text") for c in COLUMNS])
    return "\ufeff" + out.getvalue()


def to_jsonl(orders: list[WorkOrder]) -> str:
    """One submitted order per line, every field (the transcript masked, as stored)."""
    return "".join(json.dumps(o.to_json(), ensure_ascii=False) + "\n" for o in orders)


@click.group("hotline")
def hotline() -> None:
    """The hotline's work orders (docs/hotline.md)."""


@hotline.command("export")
@click.option("--since", required=True, metavar="DATE",
              help="Orders submitted on or after this local day (YYYY-MM-DD, in the time_zone setting).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True,
              help="csv: one row per order (summary, places, times, documents); jsonl: every field.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@click.pass_context
def export(ctx: click.Context, since: str, fmt: str, output: Path | None) -> None:
    """Export the submitted work orders since DATE (drafts are not exported)."""
    settings = ctx.obj.settings
    local = ZoneInfo(settings.time_zone)
    day = datetime.fromisoformat(normalize_date(since, "--since")).replace(tzinfo=local)
    orders = Orders(settings.paths.app_db)
    try:
        found = orders.submitted_since(day.timestamp())
    finally:
        orders.close()
    text = to_csv(found) if fmt == "csv" else to_jsonl(found)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    click.echo(f"{len(found)} work order(s) since {day.date().isoformat()}", err=True)


COMMANDS: list[click.Command] = [hotline]
