"""`civic catalog export --format jsonl|csv [--out FILE]`: the public catalog as catalog records.

Every record is checked against archive/catalog_schema.json before it is written; a record that fails is
reported (id and every broken rule) and left out, and the exit code is 1.  Only published, expired and
abolished documents are exported unless ``--all`` is given.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import IO

import click

from app.catalog import PUBLIC
from archive import catalog as records
from archive.store import Archive


@click.group("catalog")
def catalog() -> None:
    """The catalog records (archive/catalog_schema.json) other systems exchange with this one."""


@catalog.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="JSON lines (one record a line) or CSV (UTF-8 with a BOM; keywords joined by 、, a guide's"
                   " materials and steps one per line).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (atomically, by rename) instead of standard output.")
@click.option("--no-body", is_flag=True, help="Leave each document's text out (a listing, not importable).")
@click.option("--all", "everything", is_flag=True, help="Drafts and documents in review too (not public).")
@click.pass_context
def export(ctx: click.Context, fmt: str, out: Path | None, no_body: bool, everything: bool) -> None:
    """Export the catalog as records that validate against the catalog schema."""
    archive = Archive(ctx.obj.settings.paths.archive_db)
    tmp = out.with_name(out.name + ".part") if out is not None else None
    written = failed = 0
    try:
        stream: IO[str] = (tmp.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
                           if tmp is not None else sys.stdout)
        try:
            columns = records.csv_columns(body=not no_body)
            writer = csv.writer(stream) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(columns)
            for doc in archive.iter_documents(statuses=None if everything else PUBLIC):
                record = records.to_record(doc, body=not no_body)
                problems = records.problems(record)
                if problems:
                    failed += 1
                    click.echo(f"left out {doc.id}: " + "; ".join(problems), err=True)
                    continue
                if writer is not None:
                    writer.writerow(records.csv_cells(record, columns))
                else:
                    stream.writelines(records.jsonl_lines([record]))
                written += 1
        finally:
            if tmp is not None:
                stream.close()
        if tmp is not None and out is not None:
            tmp.replace(out)
    finally:
        archive.close()
        if tmp is not None and tmp.exists():
            tmp.unlink()
    click.echo(f"exported {written} record(s)" + (f", {failed} left out" if failed else ""), err=True)
    if failed:
        ctx.exit(1)


COMMANDS = [catalog]
