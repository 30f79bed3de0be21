"""The archive's word index (documents_fts, FTS5 trigram) answers exactly what the substring rule answers,
stays in step with every write, is built for an archive that predates it, and the public listing's filters
run from idx_documents_listing."""

from __future__ import annotations

import json
import random
from pathlib import Path

from app.catalog import validity
from archive.demo import seed_demo
from archive.models import Document, Status
from archive.store import _TEXT_SEARCHED, Archive, DocQuery

PUBLIC = ("published", "expired", "abolished")


def _by_scan(archive: Archive, words: list[str]) -> set[str]:
    found = set()
    for doc in archive.iter_documents():
        # keywords are stored (and indexed) as their JSON text
        fields = [
            json.dumps(doc.keywords, ensure_ascii=False) if c == "keywords" else str(getattr(doc, c))
            for c in _TEXT_SEARCHED
        ]
        texts = [f.lower() for f in fields]
        if all(any(w.lower() in t for t in texts) for w in words):
            found.add(doc.id)
    return found


def test_index_answers_what_a_scan_answers(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    seed_demo(archive)
    rng = random.Random(3)
    docs = list(archive.iter_documents())
    checked = 0
    for _ in range(60):
        doc = rng.choice(docs)
        text = rng.choice([doc.title, doc.body, doc.summary or doc.title])
        size = rng.randint(3, 6)
        start = rng.randrange(max(1, len(text) - size))
        word = text[start : start + size].strip()
        if len(word) < 3 or word.split() != [word]:
            continue
        total, found = archive.search_documents(DocQuery(text=word), limit=1000)
        ids = {d.id for d in found}
        assert doc.id in ids and total == len(ids)
        assert ids == _by_scan(archive, [word]), repr(word)
        checked += 1
    assert checked > 30
    # two-character words: the bigram index, the same answers as the scan
    for _ in range(40):
        doc = rng.choice(docs)
        start = rng.randrange(len(doc.body) - 2)
        word = doc.body[start : start + 2]
        if not word.isalnum():
            continue
        ids = {d.id for d in archive.search_documents(DocQuery(text=word), limit=1000)[1]}
        assert doc.id in ids and ids == _by_scan(archive, [word]), word
        checked += 1
    assert checked > 45
    # one-character words too (the same index), against the scan
    for char in ("证", "婚", "A", "9", "办"):
        ids = {d.id for d in archive.search_documents(DocQuery(text=char), limit=1000)[1]}
        assert ids == _by_scan(archive, [char]), char
    # mixed case (ASCII folds like lower()) and a short word still work
    assert {d.id for d in archive.search_documents(DocQuery(text="MARRIAGE registration"))[1]} == _by_scan(
        archive, ["marriage", "registration"]
    )
    assert archive.search_documents(DocQuery(text="户口"))[0] == len(_by_scan(archive, ["户口"])) > 0


def test_index_follows_every_write_and_is_built_for_an_older_archive(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    archive = Archive(path)
    archive.upsert(
        Document(id="X", title="旧标题甲乙丙", body="第一版正文关于养犬管理", doc_no="示府发〔2024〕7号")
    )
    archive.upsert(Document(id="Y", title="另一个文件", body="无关内容"))
    assert [d.id for d in archive.search_documents(DocQuery(text="养犬管理"))[1]] == ["X"]
    archive.upsert(
        Document(id="X", title="新标题丁戊己", body="第二版正文关于停车收费", doc_no="示府发〔2024〕7号")
    )
    assert archive.search_documents(DocQuery(text="养犬管理"))[0] == 0  # the old text is gone from the index
    assert archive.search_documents(DocQuery(text="养犬"))[0] == 0  # and from the bigram index
    assert [d.id for d in archive.search_documents(DocQuery(text="停车"))[1]] == ["X"]
    assert [d.id for d in archive.search_documents(DocQuery(text="停车收费"))[1]] == ["X"]
    archive.set_status("X", Status.ABOLISHED, reason="废止")
    assert [d.id for d in archive.search_documents(DocQuery(text="停车收费"))[1]] == ["X"]
    assert archive.db.execute("SELECT count(*) FROM documents_fts").fetchone()[0] == 2  # one row per document
    listed = archive.db.execute("SELECT id, status FROM documents_listing ORDER BY id").fetchall()
    assert listed == [("X", "abolished"), ("Y", "published")]
    # 文号 and 索引号 fragments: in that element only
    assert [d.id for d in archive.search_documents(DocQuery(doc_no="〔2024〕7"))[1]] == ["X"]
    assert archive.search_documents(DocQuery(doc_no="停车收费"))[0] == 0
    assert [d.id for d in archive.search_documents(DocQuery(doc_no="7号"))[1]] == ["X"]  # short: a scan
    # an archive made before the index: opening it builds the index from its documents
    archive.db.execute("DROP TABLE documents_fts")
    archive.db.execute("INSERT INTO documents_bigrams (documents_bigrams) VALUES ('delete-all')")
    archive.db.execute("DROP TABLE documents_listing")
    archive.set_meta("short_word_index", "0")  # an earlier layout: rebuilt on opening
    archive.close()
    reopened = Archive(path)
    assert [d.id for d in reopened.search_documents(DocQuery(text="停车收费"))[1]] == ["X"]
    assert reopened.search_documents(DocQuery(text="无关内容"))[0] == 1
    assert [d.id for d in reopened.search_documents(DocQuery(text="收费"))[1]] == ["X"]
    assert reopened.search_documents(DocQuery(text="养犬"))[0] == 0
    assert [d.id for d in reopened.search_documents(DocQuery(text="停"))[1]] == ["X"]
    assert [
        d.id
        for d in reopened.search_documents(DocQuery(text="停车", validity="abolished", today="2026-01-01"))[1]
    ] == ["X"]


def test_a_rolled_back_write_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    archive.upsert(Document(id="X", title="甲", body="原来的正文内容"))
    try:
        with archive.transaction():
            archive.upsert(Document(id="X", title="甲", body="改过的正文内容"))
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert archive.search_documents(DocQuery(text="原来的"))[0] == 1
    assert archive.search_documents(DocQuery(text="改过的"))[0] == 0
    assert archive.search_documents(DocQuery(text="改过"))[0] == 0
    assert archive.search_documents(DocQuery(text="原来"))[0] == 1


def test_public_listing_filters_run_from_the_listing_index(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    seed_demo(archive)
    for query in (
        DocQuery(statuses=PUBLIC),
        DocQuery(statuses=PUBLIC, issuer="示范市民政局", type="guide"),
        DocQuery(statuses=PUBLIC, validity="current", today="2026-01-01", issued_from="2020-01-01"),
    ):
        where, params = archive._query_filters(query)
        plan = " ".join(
            r[3]
            for r in archive.db.execute(
                f"EXPLAIN QUERY PLAN SELECT rowid FROM documents {where} ORDER BY issued_on DESC, id DESC",
                params,
            )
        )
        assert "COVERING INDEX idx_documents_listing" in plan, plan
    newest = archive.search_documents(DocQuery(statuses=PUBLIC), limit=200, order="newest")[1]
    dates = [d.issued_on for d in newest]
    assert dates == sorted(dates, reverse=True) and len(newest) == archive.count()
    page = archive.search_documents(DocQuery(statuses=PUBLIC), limit=5, offset=5, order="newest")[1]
    assert [d.id for d in page] == [d.id for d in newest[5:10]]


def test_word_queries_checked_in_the_listing_table_page_like_a_scan(tmp_path: Path) -> None:
    """A word query is filtered and ordered in documents_listing; its pages are those of a plain scan."""
    archive = Archive(tmp_path / "a.db")
    seed_demo(archive)
    assert archive.get("SF-P-001").status is Status.ABOLISHED  # the demo corpus has abolished ones
    today = "2026-06-01"
    queries = [
        DocQuery(text="示范市", statuses=PUBLIC),
        DocQuery(text="办理 材料", type="guide"),
        DocQuery(doc_no="〔2024〕", statuses=PUBLIC),
        DocQuery(text="证件", validity="current", today=today, issuer="示范市公安局"),
        DocQuery(text="居住证", validity="abolished", today=today),
    ]
    docs = list(archive.iter_documents())
    for q in queries:
        expected = [
            d
            for d in docs
            if d.id in _by_scan(archive, q.text.split())
            and (not q.doc_no or q.doc_no in d.doc_no)
            and (not q.statuses or d.status.value in q.statuses)
            and (not q.type or d.type.value == q.type)
            and (not q.issuer or d.issuer == q.issuer)
            and (not q.validity or validity(d, today) == q.validity)
        ]
        expected.sort(key=lambda d: (d.issued_on, d.id), reverse=True)
        for offset in (0, 3):
            total, page = archive.search_documents(q, limit=4, offset=offset, order="newest")
            assert total == len(expected) > 0, q
            assert [d.id for d in page] == [d.id for d in expected[offset : offset + 4]], q
    rows = archive.db.execute("SELECT count(*) FROM documents_listing").fetchone()[0]
    assert rows == archive.count()  # one narrow row per document, after every write
