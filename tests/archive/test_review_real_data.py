"""The review checks over real published government text (../shared/data; skipped when absent): 2262
provincial service guides and 1831 Taipei FAQ answers, all already public.  They hold agencies' phone numbers,
mailboxes and links, and as far as anyone has found no citizen's ID, mobile or card number, so every
personal-data finding on them is a false alarm a reviewer would have to acknowledge.  The test keeps those
rare: none of the number kinds that only a person has, and personal-data findings on at most 1 % of the
documents.  `pytest -q -s` prints the counts recorded in bench/REVIEW.md."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from archive.importers import import_paths
from archive.review import MARKER, NAME, PERSONAL_KINDS, review
from archive.store import Archive
from tests.conftest import shared_data

pytestmark = pytest.mark.shared_data
TODAY = "2026-12-01"


def test_public_documents_raise_few_personal_data_findings(tmp_path: Path) -> None:
    files = [
        shared_data("gd-service-guides", "service_guides.jsonl"),
        shared_data("taipei-faq", "docs.jsonl"),
    ]
    with Archive(tmp_path / "archive.db") as archive:
        report = import_paths(archive, files, "auto", 200_000)
        assert report.ok
        by_kind: Counter[str] = Counter()
        flagged_docs = docs = 0
        examples: list[str] = []
        started = time.perf_counter()
        for doc in archive.iter_documents():
            docs += 1
            found = [f for f in review(doc, [], TODAY) if f.kind in (*PERSONAL_KINDS, NAME, MARKER)]
            by_kind.update(f.kind for f in found)
            flagged_docs += bool(found)
            examples += [f"{doc.id} {f.kind} {f.text!r}" for f in found[:1]]
        seconds = time.perf_counter() - started
    print(f"\n{docs} documents, {flagged_docs} with a personal-data or marker finding: {dict(by_kind)}")
    print(f"reading and checking them took {seconds:.2f} s ({1000 * seconds / docs:.2f} ms a document)")
    for line in examples[:40]:
        print("  ", line)
    assert docs == 2262 + 1831
    assert by_kind["id_card"] == by_kind["mobile"] == by_kind["bank_card"] == by_kind["passport"] == 0
    assert flagged_docs <= 0.01 * docs
