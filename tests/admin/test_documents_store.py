"""The archive's filtered listing, version fetch and facet values (what /admin/documents reads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.models import DocType, Document, Status
from archive.store import Archive, DocQuery
from core.errors import InvalidInput, NotFound

TODAY = "2026-06-01"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive.db") as a:
        yield a


def doc(doc_id: str, **kw: object) -> Document:
    values: dict[str, object] = {"id": doc_id, "title": f"文件{doc_id}", "body": "正文。"}
    values.update(kw)
    return Document(**values)  # type: ignore[arg-type]


def ids(archive: Archive, **kw: str) -> list[str]:
    total, found = archive.search_documents(DocQuery(today=TODAY, **kw))
    assert total == len(found)
    return [d.id for d in found]


@pytest.fixture
def filled(archive: Archive) -> Archive:
    archive.upsert(doc("a", type=DocType.GUIDE, title="居住证办理", issuer="示范市公安局", topic="公安",
                       genre="办事指南", audience="自然人", issued_on="2025-03-01", keywords=["暂住证"]))
    archive.upsert(doc("b", title="养老保险办法", doc_no="示人社〔2024〕3号", index_no="1136-2024-00012",
                       issuer="示范市人社局", topic="社保", issued_on="2024-07-15", valid_until="2026-01-01"))
    archive.upsert(doc("c", type=DocType.FAQ, body="Passport renewal takes ten days.", issuer="示范市公安局",
                       status=Status.DRAFT, issued_on="2026-02-01"))
    archive.upsert(doc("d", title="旧的居住证规定", status=Status.ABOLISHED, issuer="示范市公安局"))
    archive.upsert(doc("e", status=Status.EXPIRED, valid_from="2020-01-01"))
    archive.upsert(doc("f", valid_from="2027-01-01"))
    return archive


def test_words_match_title_body_doc_no_index_no_and_keywords(filled: Archive) -> None:
    assert ids(filled, text="居住证") == ["a", "d"]
    assert ids(filled, text="〔2024〕3号") == ["b"]
    assert ids(filled, text="1136-2024") == ["b"]
    assert ids(filled, text="暂住证") == ["a"]
    assert ids(filled, text="PASSPORT days") == ["c"]  # every word, any case
    assert ids(filled, text="passport 居住证") == []


def test_each_catalog_element_filters(filled: Archive) -> None:
    assert ids(filled, type="guide") == ["a"]
    assert ids(filled, status="draft") == ["c"]
    assert ids(filled, issuer="示范市公安局") == ["a", "c", "d"]
    assert ids(filled, topic="社保") == ["b"]
    assert ids(filled, genre="办事指南", audience="自然人") == ["a"]
    assert ids(filled, issued_from="2025-01-01") == ["a", "c"]
    assert ids(filled, issued_from="2024-01-01", issued_to="2025-12-31") == ["a", "b"]
    assert ids(filled, issuer="示范市公安局", text="居住证", status="published") == ["a"]


def test_validity_filters(filled: Archive) -> None:
    assert ids(filled, validity="current") == ["a"]
    assert ids(filled, validity="expired") == ["b", "e"]  # b's validity ran out while it was published
    assert ids(filled, validity="abolished") == ["d"]


def test_current_filter_agrees_with_document_is_current(filled: Archive) -> None:
    for today in ("2019-01-01", "2025-12-31", "2026-01-01", "2026-01-02", TODAY, "2027-01-01"):
        _, found = filled.search_documents(DocQuery(validity="current", today=today))
        expected = [d.id for d in filled.iter_documents() if d.is_current(today)]
        assert [d.id for d in found] == expected, today


def test_paging_counts_every_match(filled: Archive) -> None:
    total, page = filled.search_documents(DocQuery(), limit=2, offset=2)
    assert total == 6
    assert [d.id for d in page] == ["c", "d"]


def test_bad_filters_are_invalid_input(filled: Archive) -> None:
    for bad in (DocQuery(type="memo"), DocQuery(status="gone"), DocQuery(validity="soon", today=TODAY),
                DocQuery(validity="current")):
        with pytest.raises(InvalidInput):
            filled.search_documents(bad)


def test_version_fetch_and_distinct_values(filled: Archive) -> None:
    filled.upsert(doc("a", type=DocType.GUIDE, title="居住证办理（修订）"))
    assert filled.version("a", 1).title == "居住证办理"
    assert filled.version("a", 2).title == "居住证办理（修订）"
    with pytest.raises(NotFound):
        filled.version("a", 3)
    with pytest.raises(NotFound):
        filled.version("zz", 1)
    assert filled.distinct("issuer") == sorted(["示范市人社局", "示范市公安局"])
    assert filled.distinct("topic") == ["社保"]  # a's second version has no topic: current values only
    with pytest.raises(InvalidInput):
        filled.distinct("body")
