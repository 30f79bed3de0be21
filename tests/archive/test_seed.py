"""seed_demo / is_seeded against a small fixture corpus (the real corpus has its own test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.demo import demo_files, is_seeded, seed_demo
from archive.store import Archive
from core.errors import NotFound
from tests.archive.helpers import record, write_jsonl


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "demo"
    write_jsonl(d / "policies.jsonl", [record("p1", type="policy", replaced_by="p2", status="abolished")])
    write_jsonl(d / "guides.jsonl", [record("g1"), record("g2")])
    write_jsonl(d / "faqs.jsonl", [record("f1", type="faq")])
    write_jsonl(
        d / "applications.jsonl",
        [{"app_no": "SF1", "item": "结婚登记", "guide_id": "g1", "applicant": "李*", "phone_last4": "0001"}],
    )
    write_jsonl(d / "extra.jsonl", [record("x1")])
    return d


def test_files_load_in_dependency_order(corpus: Path) -> None:
    names = [p.name for p in demo_files(corpus)]
    assert names == ["guides.jsonl", "policies.jsonl", "faqs.jsonl", "applications.jsonl", "extra.jsonl"]


def test_seed_once_then_nothing_changes(home: Path, corpus: Path) -> None:
    with Archive(home / "archive.db") as archive:
        assert not is_seeded(archive)
        report = seed_demo(archive, corpus)
        assert report.ok and report.total("added") == 6
        assert is_seeded(archive)
        assert archive.stats()["by_type"] == {"faq": 1, "guide": 3, "policy": 1}
        assert archive.verify_application("SF1", "0001")
        again = seed_demo(archive, corpus)
        assert again.changes == 0 and again.total("unchanged") == 6
    with Archive(home / "archive.db") as reopened:
        assert is_seeded(reopened)


def test_missing_corpus_is_a_named_error(home: Path, tmp_path: Path) -> None:
    with Archive(home / "archive.db") as archive, pytest.raises(NotFound):
        seed_demo(archive, tmp_path / "nowhere")
    with Archive(home / "archive.db") as archive:
        assert not is_seeded(archive)
