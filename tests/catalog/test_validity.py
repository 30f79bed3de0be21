"""The catalog's validity label is the archive's validity filter, document by document (one rule)."""

from __future__ import annotations

from pathlib import Path

from app.catalog import PUBLIC, validity
from archive.demo import seed_demo
from archive.models import Document, Status
from archive.store import Archive, DocQuery


def test_the_label_is_the_filter(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    seed_demo(archive)
    archive.upsert(Document(id="SOON", title="明年施行", body="正文", valid_from="2031-01-01"))
    archive.upsert(Document(id="PAST", title="已过期未标记", body="正文", valid_until="2020-12-31"))
    archive.upsert(Document(id="EXP", title="标记失效", body="正文"))
    archive.set_status("EXP", Status.EXPIRED, reason="到期")
    archive.upsert(Document(id="ABO", title="废止", body="正文"))
    archive.set_status("ABO", Status.ABOLISHED, reason="废止")
    seen = set()
    for today in ("2019-06-01", "2026-06-01", "2032-01-01"):
        buckets = {
            name: {
                d.id
                for d in archive.search_documents(
                    DocQuery(validity=name, today=today, statuses=tuple(s.value for s in PUBLIC)),
                    limit=10_000,
                )[1]
            }
            for name in ("current", "expired", "abolished")
        }
        for doc in archive.iter_documents(statuses=PUBLIC):
            label = validity(doc, today)
            inside = [name for name, ids in buckets.items() if doc.id in ids]
            assert inside == ([] if label == "pending" else [label]), (doc.id, today, label, inside)
            seen.add(label)
    assert seen == {"current", "expired", "abolished", "pending"}
