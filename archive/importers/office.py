"""The formats documents really come in — PDF, DOCX, OFD and legacy DOC/WPS — turned into one record each.

The body is the file's text (archive.importers.pdf, docx, ofd, legacy).  The catalog elements come from
the sidecar beside the file (archive.importers.sidecar) and, for 名称 title, 文号 doc_no, 发文机关 issuer
and 发文日期 issued_on where the sidecar does not give them, from the text (archive.importers.extract):
each element taken from the text is named in the record's ``extracted`` list, so review flags it.  Without a
title in either, the file name is the title (flagged the same way).  The record is always a draft: the
sidecar's ``status``, ``status_reason``, ``replaced_by``, ``body``, ``extracted`` and provenance keys are
ignored.

:func:`fingerprint` names the kept original: the SHA-256 of the file's bytes and the sidecar's, so the
same file with the same sidecar is the same original (re-importing it is a no-op), and the name is safe
whatever the file was called.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.importers import docx, extract, legacy, ofd, pdf, sidecar
from archive.importers.text import UnreadableFile

FORMATS = ("pdf", "docx", "ofd", "doc")
SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".ofd": "ofd", ".doc": "doc", ".wps": "doc"}
MAX_FILE_BYTES = 100 * 1024 * 1024
EXTRACTABLE = ("title", "doc_no", "issuer", "issued_on")
_IGNORED = frozenset({"status", "status_reason", "replaced_by", "body", "extracted", "origin", "origin_level",
                      "origin_id", "version", "updated_at", "source"})
_READERS: dict[str, Callable[[bytes], str]] = {"pdf": pdf.read_text, "docx": docx.read_text,
                                               "ofd": ofd.read_text}


@dataclass
class OfficeRecord:
    data: dict[str, Any]  # the generic-format record, for archive.validate.document_from_record
    fingerprint: str  # hex SHA-256 of the file and its sidecar
    sidecar: Path | None
    content: bytes  # the file's bytes, as read


def fingerprint(content: bytes, sidecar_bytes: bytes = b"") -> str:
    digest = hashlib.sha256(content)
    digest.update(b"\0sidecar\0")
    digest.update(sidecar_bytes)
    return digest.hexdigest()


def original_name(path: Path, print_: str) -> str:
    """The kept original's file name: 32 hex digits of the fingerprint and the lower-case suffix."""
    return print_[:32] + path.suffix.lower()


def text_of(path: Path, fmt: str, content: bytes) -> str:
    if fmt == "doc":
        return legacy.read_text(path)
    return _READERS[fmt](content)


def read(path: Path, fmt: str) -> OfficeRecord:
    """Read ``path`` (``fmt`` one of :data:`FORMATS`) and its sidecar into one draft record; raises
    UnreadableFile for the file, RecordError (``malformed``) for the sidecar."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableFile(f"refused: the file has {size:,} bytes (at most {MAX_FILE_BYTES:,})")
        content = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    side = sidecar.find(path)
    given, side_bytes = sidecar.load(side) if side else ({}, b"")
    text = text_of(path, fmt, content)
    record: dict[str, Any] = {k: v for k, v in given.items() if k not in _IGNORED}
    if not str(record.get("id") or "").strip():
        record["id"] = path.stem.strip()
    record["body"] = text
    found = extract.elements(text)
    extracted = []
    for name in EXTRACTABLE:
        if str(record.get(name) or "").strip():
            continue
        if found.get(name):
            record[name] = found[name]
            extracted.append(name)
    if not str(record.get("title") or "").strip():
        record["title"] = path.stem.strip()
        extracted.append("title")
    record["extracted"] = extracted
    record["status"] = "draft"
    return OfficeRecord(record, fingerprint(content, side_bytes), side, content)


def keep(content: bytes, originals: Path, name: str) -> None:
    """Write the file's ``content`` to ``originals/name`` (atomically: a temporary file renamed;
    an existing one is kept)."""
    target = originals / name
    if target.is_file():
        return
    try:
        originals.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=originals)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UnreadableFile(f"cannot keep the original in {originals}: {exc.strerror or exc}") from exc
