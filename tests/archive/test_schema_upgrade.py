"""An archive written before a Document field existed opens, gains the column, and keeps its documents."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archive.models import Document
from archive.store import Archive


def test_an_older_archive_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        archive.upsert(Document(id="P-1", title="旧文件", body="正文。", doc_no="示政发〔2020〕1号"))
    conn = sqlite3.connect(path)  # what an archive of the previous release looked like: no provenance
    for table in ("documents", "versions"):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN origin")
        conn.execute(f"ALTER TABLE {table} DROP COLUMN extracted")
    conn.commit()
    conn.close()
    with Archive(path) as archive:
        doc = archive.get("P-1")
        assert (doc.title, doc.origin, doc.extracted) == ("旧文件", "", [])
        change = archive.upsert(Document(id="P-2", title="新文件", body="正文。", origin="province",
                                         origin_level="province", extracted=["doc_no"]))
        assert change
        assert archive.get("P-2").extracted == ["doc_no"]
        assert [d.version for d in archive.history("P-1")] == [1]
