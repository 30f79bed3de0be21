"""`civic review DOC_ID [--json]`: the checks before publishing (archive/review.py) from the shell."""

from __future__ import annotations

import json

import click

from archive.review import load_negative_list, review
from archive.store import Archive
from archive.validate import normalize_date
from core.dates import local_today


@click.command("review")
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list of findings (kind, text, start, end, field, message).")
@click.option("--today", metavar="DATE", help="Check validity against this date (default: today).")
@click.pass_context
def review_cmd(ctx: click.Context, doc_id: str, as_json: bool, today: str | None) -> None:
    """Run the checks before publishing on DOC_ID: personal data, classification markers, the city's
    negative list (<home>/review/negative_list.txt), missing catalog elements, validity, the replacement.

    START and END are character offsets into FIELD's text.  The exit code is 1 when there are findings.
    """
    settings = ctx.obj.settings
    day = normalize_date(today, "--today") if today else local_today(settings.time_zone)
    terms = load_negative_list(settings.paths.negative_list)
    with Archive(settings.paths.archive_db) as archive:
        doc = archive.get(doc_id)
        findings = review(doc, terms, day, lookup=archive.find)
    if as_json:
        click.echo(json.dumps([f.to_json() for f in findings], ensure_ascii=False, indent=2))
    else:
        for number, f in enumerate(findings, start=1):
            where = f"{f.field}[{f.start}:{f.end}]" if f.text else f.field
            shown = f" «{f.text}»" if f.text else ""
            click.echo(f"{number}. {f.kind}  {where}{shown}  {f.message}")
        click.echo(f"{doc_id} v{doc.version}: {len(findings) or 'no'} finding(s)", err=True)
    if findings:
        ctx.exit(1)


COMMANDS: list[click.Command] = [review_cmd]
