"""Archive commands: `civic import`, `civic docs list|show|publish|review|expire|abolish`, `civic stats`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from archive.importers import FORMATS, import_paths
from archive.models import DocType, Document, Status
from archive.store import Archive
from core.errors import InvalidInput


def _open(ctx: click.Context) -> Archive:
    return Archive(ctx.obj.settings.paths.archive_db)


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Input format; auto picks it from the file suffix and the record keys (portal export, 办件).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (and no progress bar).")
@click.pass_context
def import_cmd(ctx: click.Context, paths: tuple[Path, ...], fmt: str, as_json: bool) -> None:
    """Import documents or applications from PATHS (files or directories).

    Each file lands in one transaction. Invalid records are listed with file, line and reason while the
    valid ones still land; the exit code is 1 when anything was rejected. See docs/import-format.md.
    """
    settings = ctx.obj.settings
    progress = not as_json and sys.stderr.isatty()
    with _open(ctx) as archive:
        report = import_paths(archive, paths, fmt, settings.max_body_chars, progress=progress,
                              originals=settings.paths.originals_dir)
    if as_json:
        _dump(report.to_dict())
    else:
        for file in report.files:
            click.echo(file.summary())
            for reject in file.rejects:
                click.echo(f"  rejected {reject}")
        if len(report.files) > 1:
            totals = report.to_dict()["totals"]
            click.echo("total: " + ", ".join(f"{v} {k}" for k, v in totals.items()))
    if not report.ok:
        ctx.exit(1)


@click.group("docs")
def docs() -> None:
    """Look at and manage the documents in the archive."""


@docs.command("list")
@click.option("--type", "doc_type", type=click.Choice([t.value for t in DocType]), help="Only this type.")
@click.option("--status", type=click.Choice([s.value for s in Status]), help="Only this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def docs_list(
    ctx: click.Context, doc_type: str | None, status: str | None, limit: int, offset: int, as_json: bool
) -> None:
    """List documents (id, type, status, version, title), ordered by id."""
    with _open(ctx) as archive:
        found = archive.list(type=doc_type, status=status, limit=limit, offset=offset)
        total = archive.count(type=doc_type, status=status)
    if as_json:
        _dump({"total": total, "documents": [asdict(d) for d in found]})
        return
    for d in found:
        click.echo(f"{d.id}\t{d.type.value}\t{d.status.value}\tv{d.version}\t{d.title}")
    click.echo(f"({len(found)} of {total})", err=True)


def _show(doc: Document) -> None:
    for name, value in asdict(doc).items():
        if name == "body" or value in ("", [], None):
            continue
        if isinstance(value, list):
            value = "；".join(str(v) for v in value)
        click.echo(f"{name}: {value}")
    click.echo("")
    click.echo(doc.body)


def _diff(old: Document, new: Document) -> str:
    before, after = old.content(), new.content()
    changed = [k for k in after if before[k] != after[k]]
    parts = []
    for key in changed:
        if key in ("status", "type"):
            parts.append(f"{key} {before[key]}→{after[key]}")
        else:
            parts.append(key)
    return ", ".join(parts) or "(no content change)"


@docs.command("show")
@click.argument("doc_id")
@click.option("--history", is_flag=True, help="List every version and what changed in it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def docs_show(ctx: click.Context, doc_id: str, history: bool, as_json: bool) -> None:
    """Show one document with its catalog fields (and, with --history, its versions)."""
    with _open(ctx) as archive:
        doc = archive.get(doc_id)
        versions = archive.history(doc_id) if history else []
    if as_json:
        data: dict[str, Any] = asdict(doc)
        if history:
            data["history"] = [asdict(v) for v in versions]
        _dump(data)
        return
    _show(doc)
    if history:
        click.echo("\nversions:")
        previous: Document | None = None
        for v in versions:
            what = "created" if previous is None else _diff(previous, v)
            reason = f" ({v.status_reason})" if v.status_reason and previous is not None else ""
            click.echo(f"  v{v.version}  {v.updated_at}  {v.status.value}  {what}{reason}")
            previous = v


def _status_command(name: str, target: Status, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("doc_id")
    @click.option("--reason", default="", help="Why (shown to citizens for expired or abolished documents).")
    @click.option(
        "--replaced-by", default="", metavar="ID", help="Id of the document that replaces this one."
    )
    @click.pass_context
    def command(ctx: click.Context, doc_id: str, reason: str, replaced_by: str) -> None:
        if replaced_by and target not in (Status.EXPIRED, Status.ABOLISHED):
            raise InvalidInput("--replaced-by only applies to expire and abolish")
        with _open(ctx) as archive:
            doc = archive.set_status(doc_id, target, reason=reason, replaced_by=replaced_by)
        click.echo(f"{doc.id}: {doc.status.value} (version {doc.version})")

    return command


docs.add_command(_status_command("publish", Status.PUBLISHED, "Publish a document (from draft, review, …)."))
docs.add_command(_status_command("review", Status.REVIEW, "Send a document to review."))
docs.add_command(_status_command("expire", Status.EXPIRED, "Mark a published document as expired."))
docs.add_command(_status_command("abolish", Status.ABOLISHED, "Mark a document as abolished (废止)."))


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Count documents by type and by status, and applications (办件) by state."""
    with _open(ctx) as archive:
        data = archive.stats()
    if as_json:
        _dump(data)
        return
    for section, counts in data.items():
        click.echo(f"{section}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none"))


COMMANDS: list[click.Command] = [import_cmd, docs, stats]
