"""How well the assistant serves (issue 13 part 5): the numbers of ``app/analytics.py`` as a page and as CSV.

  GET  /admin/analytics[?from&to&channel]          the page: totals, charts (server-side SVG) with the same
                                                   numbers in tables, by day, week and channel, top lists
  GET  /admin/analytics.csv?table=NAME[&from&to&channel]   one table as CSV (UTF-8 with BOM, for Excel)

Roles: reviewers and editors (admins pass every check).  Editors curate from what the bot failed on and
reviewers see how the published documents fare; staff handle single conversations and have their own
console.  Only masked text is shown.  An export is recorded in the audit log (the data leaves the console).
The report is computed on the app's thread pool.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from app.admin.web import audit, render, require
from app.analytics import CHANNELS, TOP, Analytics, Filters, Report, Table, to_csv
from app.curation import inbox
from app.keys import RETRIEVER, SETTINGS
from app.svgchart import Series, bar_chart, hbar_chart, line_chart
from core.errors import InvalidInput

ROLES = ("reviewer", "editor")
PAGE, CSV = "/admin/analytics", "/admin/analytics.csv"
DAILY_CHART_DAYS = 92  # longer ranges chart the volume per week (the table and the CSV keep every day)


def _analytics(request: web.Request) -> Analytics:
    settings = request.app[SETTINGS]
    return Analytics(settings.paths.app_db, settings.time_zone)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def cell(value: Any, kind: str) -> str:
    """A table cell as the page shows it."""
    if value is None:
        return "—"
    if kind == "percent":
        return percent(value)
    if kind == "number":
        return f"{value:.2f}"
    if kind == "int":
        return f"{value:,}"
    return str(value)


def charts(report: Report) -> dict[str, Markup]:
    weeks = [table_row[0] for table_row in report.tables()["weekly"].rows]
    if len(report.days) <= DAILY_CHART_DAYS:
        labels, buckets = [d.strftime("%m-%d") for d, _ in report.days], report.days
        title = "每日会话与消息 Conversations and messages per day"
    else:  # a bar per day of a long range is too thin to read and heavy to send: a bar per week
        labels, buckets = weeks, report.weeks
        title = "每周会话与消息 Conversations and messages per week"
    volume = bar_chart(title, labels, [Series("会话 Conversations", [c.conversations for _, c in buckets]),
                                       Series("消息 Messages", [c.messages for _, c in buckets])])
    rates = line_chart("每周比率 Rates per week", weeks, [
        Series("自助解决 Containment", [c.containment for _, c in report.weeks]),
        Series("未理解 Fallback", [c.fallback_rate for _, c in report.weeks]),
        Series("满意度 Satisfaction", [c.satisfaction for _, c in report.weeks])])
    channels = bar_chart("各渠道会话 Conversations by channel", [n for n, _ in report.channels], [
        Series("会话 Conversations", [c.conversations for _, c in report.channels]),
        Series("转人工 Hand-overs", [c.handovers for _, c in report.channels])])
    top = report.intents[:10]
    intents = hbar_chart("热门意图 Top intents", [i.name for i in top], [i.messages for i in top])
    return {"volume": volume, "rates": rates, "channels": channels, "intents": intents}


def csv_href(name: str, filters: Filters) -> str:
    return f"{CSV}?{urlencode({'table': name, **filters.query()})}"


@require(*ROLES)
async def page(request: web.Request) -> web.StreamResponse:
    analytics = _analytics(request)
    today = analytics.today()
    error, status = "", 200
    try:
        filters = Filters.parse(request.query, today)
    except InvalidInput as exc:
        error, status = str(exc), 400
        filters = Filters.parse({}, today)
    report = await asyncio.to_thread(analytics.report, filters, inbox.encoder_of(request.app.get(RETRIEVER)))
    tables = report.tables()
    shown: dict[str, Table] = {}
    for name, table in tables.items():
        top_list = name in ("intents", "services", "unanswered", "documents")
        rows = table.rows[:TOP] if top_list else table.rows
        shown[name] = Table(table.name, table.title, table.columns, rows)
    query = {k: request.query.get(k, v) for k, v in filters.query().items()} if error else filters.query()
    return render(request, "admin/analytics.html", {
        "report": report, "total": report.total, "tables": shown, "all_rows": {n: len(t.rows) for n, t in
                                                                             tables.items()},
        "charts": charts(report), "channels": CHANNELS, "q": query, "error": error, "cell": cell,
        "percent": percent, "csv_href": lambda name: csv_href(name, filters), "top": TOP,
    }, status=status)


@require(*ROLES)
async def export(request: web.Request) -> web.StreamResponse:
    analytics = _analytics(request)
    filters = Filters.parse(request.query, analytics.today())
    name = request.query.get("table", "")
    report = await asyncio.to_thread(analytics.report, filters, inbox.encoder_of(request.app.get(RETRIEVER)))
    table = report.tables().get(name)
    if table is None:
        raise InvalidInput(f"'table' must be one of {', '.join(report.tables())}")
    body = await asyncio.to_thread(to_csv, table)
    await audit(request, "analytics_export", name, None, {**filters.query(), "rows": len(table.rows)})
    channel = f"-{filters.channel}" if filters.channel else ""
    filename = f"analytics-{name}-{filters.start}-{filters.end}{channel}.csv"
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", PAGE, page),
    ("GET", CSV, export),
]
