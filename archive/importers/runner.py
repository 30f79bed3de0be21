"""Import files into the archive: detect each file's format, validate every record, and land each file
in one transaction (a crash or Ctrl-C mid-file leaves the archive as it was before that file).

PDF, DOCX, OFD, DOC and WPS files (archive.importers.office) are one document each, always a draft; with
``originals`` (the home's ``originals_dir``) the file is kept there under its fingerprint and the
document's ``source`` names it, so the public catalog can offer it for download.  A sidecar beside such a
file (``x.pdf.json``) is read with it, never imported on its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from archive.importers import csvfile, gd, html, jsonarray, jsonl, markdown, office, sidecar
from archive.importers.base import FileReport, ImportReport, RawRecord, Reject
from archive.importers.text import UnreadableFile, read_text
from archive.models import Status
from archive.store import Archive, Change
from archive.validate import (
    DUPLICATE_ID,
    MALFORMED,
    RecordError,
    application_from_record,
    document_from_record,
)

FORMATS = ("auto", "jsonl", "json", "csv", "md", "html", "gd", *office.FORMATS)
_BY_SUFFIX = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    **office.SUFFIXES,
}


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories replaced by the supported files inside them (recursively, sorted);
    the sidecar of a PDF/DOCX/OFD/DOC/WPS file beside it is left out (it is read with that file)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _BY_SUFFIX))
        else:
            out.append(path)
    suffixes = tuple(office.SUFFIXES)
    return [p for p in out if sidecar.document_of(p, suffixes) is None]


def detect_format(path: Path, text: str) -> str:
    """The container format from the suffix, else from the first non-blank character."""
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    head = text.lstrip()[:200]
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("---"):
        return "md"
    if head.startswith("<"):
        return "html"
    return "csv"


def _records(fmt: str, text: str, path: Path) -> Iterator[RawRecord]:
    if fmt in ("jsonl", "gd"):
        return jsonl.read(text)
    if fmt == "json":
        return jsonarray.read(text)
    if fmt == "csv":
        return csvfile.read(text)
    if fmt == "md":
        return markdown.read(text, path)
    if fmt == "html":
        return html.read(text, path)
    raise ValueError(f"unknown format {fmt!r}")


def _kind(data: dict[str, Any], fmt: str) -> str:
    if fmt == "gd" or gd.is_gd(data):
        return "gd"
    if "app_no" in data:
        return "applications"
    return "documents"


def import_file(
    archive: Archive, path: Path, fmt: str = "auto", max_body_chars: int = 200_000, progress: bool = False,
    status: Status | None = None, originals: Path | None = None,
) -> FileReport:
    """Import one file; ``status`` (e.g. draft, for files uploaded in the admin console, which must go
    through review) replaces the status every document record would otherwise land with; ``originals``:
    where PDF/DOCX/OFD/DOC/WPS files are kept (see the module docstring)."""
    report = FileReport(path=str(path))
    office_fmt = office.SUFFIXES.get(path.suffix.lower(), "") if fmt == "auto" else fmt
    if office_fmt in office.FORMATS:
        return _import_office(archive, path, office_fmt, report, max_body_chars, originals)
    try:
        text, report.encoding = read_text(path)
    except UnreadableFile as exc:
        report.error = str(exc)
        return report
    report.format = detect_format(path, text) if fmt == "auto" else fmt
    total = jsonl.count(text) if report.format in ("jsonl", "gd") else None
    bar = tqdm(total=total, desc=path.name, unit="rec", file=sys.stderr, disable=not progress, delay=0.5)
    kind = ""
    seen: dict[str, int] = {}
    try:
        with archive.transaction():
            for raw in _records(report.format, text, path):
                bar.update()
                if raw.data is None:
                    report.rejects.append(Reject(str(path), raw.line, MALFORMED, raw.error))
                    continue
                kind = kind or _kind(raw.data, report.format)
                _one(archive, report, raw.line, raw.data, kind, seen, max_body_chars, status)
    except UnreadableFile as exc:
        # rolled back: the file is not well-formed as a whole (e.g. a broken JSON array)
        report.error = str(exc)
        report.added = report.changed = report.unchanged = 0
        report.rejects.clear()
    finally:
        bar.close()
    report.kind = "applications" if kind == "applications" else "documents"
    if kind == "gd":
        report.format = "gd"
    return report


def _one(
    archive: Archive,
    report: FileReport,
    line: int,
    data: dict[str, Any],
    kind: str,
    seen: dict[str, int],
    max_body_chars: int,
    status: Status | None = None,
) -> None:
    key = "app_no" if kind == "applications" else ("TASK_CODE" if kind == "gd" else "id")
    ident = str(data.get(key) or "").strip()
    try:
        if ident in seen:
            raise RecordError(
                DUPLICATE_ID, f"id {ident!r} already appeared on line {seen[ident]} of this file"
            )
        if kind == "applications":
            app, last4 = application_from_record(data)
            change = archive.upsert_application(app, phone_last4=last4 or None)
        else:
            record = gd.to_generic(data) if kind == "gd" else data
            doc = document_from_record(record, source=report.path, max_body_chars=max_body_chars)
            if status is not None:
                doc = replace(doc, status=status)
            change = archive.upsert(doc)
    except RecordError as exc:
        report.rejects.append(Reject(report.path, line, exc.reason, exc.message, ident))
        return
    seen[ident] = line
    if change is Change.ADDED:
        report.added += 1
    elif change is Change.CHANGED:
        report.changed += 1
    else:
        report.unchanged += 1


def _import_office(
    archive: Archive, path: Path, fmt: str, report: FileReport, max_body_chars: int, originals: Path | None
) -> FileReport:
    """One PDF/DOCX/OFD/DOC/WPS file: one draft document.  The same file with the same sidecar again (the
    current version's ``source`` is this fingerprint's original) is a no-op, whatever happened to the
    document since (approved, published)."""
    report.format, report.encoding = fmt, "binary"
    try:
        read = office.read(path, fmt)
    except UnreadableFile as exc:
        report.error = str(exc)
        return report
    except RecordError as exc:  # the sidecar
        report.rejects.append(Reject(str(path), 1, exc.reason, exc.message))
        return report
    name = office.original_name(path, read.fingerprint)
    source = name if originals is not None else report.path
    ident = str(read.data.get("id") or "").strip()
    try:
        doc = document_from_record(read.data, source=source, max_body_chars=max_body_chars)
    except RecordError as exc:
        report.rejects.append(Reject(report.path, 1, exc.reason, exc.message, ident))
        return report
    try:
        with archive.transaction():
            existing = archive.find(doc.id)
            if originals is not None and existing is not None and existing.source == source:
                report.unchanged = 1
                return report
            change = archive.upsert(doc)
            if originals is not None:
                office.keep(read.content, originals, name)  # a failure here rolls the document back
    except UnreadableFile as exc:
        report.error = str(exc)
        return report
    if change is Change.ADDED:
        report.added = 1
    elif change is Change.CHANGED:
        report.changed = 1
    else:
        report.unchanged = 1
    return report


def import_paths(
    archive: Archive,
    paths: Iterable[Path | str],
    fmt: str = "auto",
    max_body_chars: int = 200_000,
    progress: bool = False,
    status: Status | None = None,
    originals: Path | None = None,
) -> ImportReport:
    """Import every file (directories are expanded); each file lands in its own transaction; ``status``
    and ``originals``: see :func:`import_file`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    report = ImportReport()
    for path in expand(Path(p) for p in paths):
        report.files.append(import_file(archive, path, fmt, max_body_chars, progress, status, originals))
    return report
