"""Search through the Retriever over a real SQLite archive and a real index on disk (fake embedder)."""

from __future__ import annotations

from archive.models import DocType, Status
from retrieval.types import Filters


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.doc_id for h in hits]


def test_traditional_query_finds_simplified_document(retriever) -> None:  # type: ignore[no-untyped-def]
    hits = retriever.search("請問結婚登記需要帶什麼證件？", top_k=3)
    assert hits and hits[0].doc_id == "G-MARRY"


def test_simplified_query_finds_traditional_document(retriever) -> None:  # type: ignore[no-untyped-def]
    hits = retriever.search("汽车被拖吊了怎么领车", top_k=3)
    assert hits and hits[0].doc_id == "G-TW-CAR"
    hits = retriever.search("停车费逾期未缴怎么办", top_k=3)
    assert hits and hits[0].doc_id == "F-TW-PARK"


def test_best_passage_is_the_matching_field_with_highlights(retriever) -> None:  # type: ignore[no-untyped-def]
    hit = retriever.search("护照申领收费", top_k=1)[0]
    assert hit.doc_id == "G-PASSPORT"
    fields = [p.field for p in hit.passages]
    assert "fees" in fields
    marked = next(p for p in hit.passages if p.field == "fees").highlight
    assert "【" in marked and "】" in marked
    # Traditional text is highlighted by a Simplified query term
    car = retriever.search("拖吊费", top_k=1)[0]
    assert car.doc_id == "G-TW-CAR"
    assert any("【拖吊費】" in p.highlight for p in car.passages)


def test_citation_carries_catalog_fields(retriever) -> None:  # type: ignore[no-untyped-def]
    hit = retriever.search("居住证期满前三十日内申请续期", top_k=1)[0]
    c = hit.citation
    assert (c.id, c.doc_no, c.issuer, c.issued_on) == ("P-RES-NEW", "示政发〔2025〕1号", "示范市人民政府",
                                                       "2025-01-10")
    assert c.status == Status.PUBLISHED and c.is_current and c.valid_from == "2025-02-01"
    assert 0.0 < hit.score <= 1.0


def test_filters_type_agency_topic_audience_and_dates(retriever) -> None:  # type: ignore[no-untyped-def]
    assert set(ids(retriever.search("预约", Filters(type=DocType.FAQ), top_k=10))) <= {"F-BOOK", "F-TW-PARK",
                                                                                     "F-EN-TAX"}
    hits = retriever.search("结婚登记", Filters(type=DocType.FAQ), top_k=10)
    assert "G-MARRY" not in ids(hits) and "F-BOOK" in ids(hits)
    hits = retriever.search("办理", Filters(agency="公安局"), top_k=10)
    assert ids(hits) == ["G-PASSPORT"]
    # a Simplified filter matches a Traditional issuer
    hits = retriever.search("停车费", Filters(agency="台北市"), top_k=10)
    assert ids(hits)[0] == "F-TW-PARK" and set(ids(hits)) <= {"F-TW-PARK", "G-TW-CAR"}
    hits = retriever.search("income tax", Filters(audience="foreigner"), top_k=10)
    assert ids(hits) == ["F-EN-TAX"]
    hits = retriever.search("居住证", Filters(topic="公安", issued_from="2025-01-01"), top_k=10)
    assert ids(hits) == ["P-RES-NEW"]
    assert retriever.search("居住证", Filters(issued_to="2010-01-01")) == []


def test_abolished_best_match_is_flagged_and_points_to_current_replacement(
        retriever) -> None:  # type: ignore[no-untyped-def]
    hits = retriever.search("居住证管理办法（2019）流动人口服务管理 有效期为一年", top_k=5)
    first = hits[0]
    assert first.doc_id == "P-RES-OLD"
    assert not first.is_current and first.citation.status == Status.ABOLISHED
    # the chain OLD -> MID (abolished too) -> NEW is followed to the current document
    assert first.superseded_by is not None and first.superseded_by.id == "P-RES-NEW"
    assert first.superseded_by.is_current
    # no other non-current document is offered as an answer
    assert all(h.is_current for h in hits[1:])
    assert "P-RES-MID" not in ids(hits)


def test_a_current_document_nearly_as_good_is_answered_before_an_abolished_one(
        retriever) -> None:  # type: ignore[no-untyped-def]
    # the abolished 2019 rules (one year) edge out the rules in force (three years) on the raw ranking
    raw, _, _, _ = retriever.rank("居住证有效期几年", None, rerank=True)
    assert raw[0].doc_id == "P-RES-OLD" and raw[1].doc_id == "P-RES-NEW"
    hits = retriever.search("居住证有效期几年", top_k=5)
    assert hits[0].doc_id == "P-RES-NEW" and hits[0].is_current
    assert all(h.is_current for h in hits)
    # a clear win of the old document (its own words asked for) still answers with it, flagged
    assert retriever.search("居住证管理办法（2019）流动人口服务管理 有效期为一年")[0].doc_id == "P-RES-OLD"


def test_inactive_documents_are_never_cited_as_current(retriever) -> None:  # type: ignore[no-untyped-def]
    for hit in retriever.search("居住证", top_k=10, include_inactive=True):
        if hit.doc_id in ("P-RES-OLD", "P-RES-MID"):
            assert not hit.citation.is_current and hit.superseded_by is not None
    hits = retriever.search("灵活就业人员社会保险补贴", top_k=5)
    assert hits[0].doc_id == "P-SUBSIDY" and not hits[0].is_current  # expired by its validity window
    assert hits[0].superseded_by is None  # no successor named
    assert retriever.search("草稿内容", top_k=5, include_inactive=True) == [] or all(
        h.doc_id != "D-DRAFT" for h in retriever.search("草稿内容", top_k=5, include_inactive=True))


def test_chinese_query_gets_no_dense_weight_with_an_english_only_model(
        retriever) -> None:  # type: ignore[no-untyped-def]
    state = retriever._state
    assert state.dense is not None and len(state.dense) >= 1  # the English FAQ was readable
    assert state.dense_weight.get("G-MARRY#0", 0.0) == 0.0  # Chinese passages were not
    _, weight, names = retriever._dense_candidates(state, "结婚登记", None)
    assert weight == 0.0 and names == {}
    found, weight, _ = retriever._dense_candidates(state, "income tax return", None)
    assert weight > 0 and found[0][0].startswith("F-EN-TAX")


def test_empty_and_unknown_queries(retriever) -> None:  # type: ignore[no-untyped-def]
    assert retriever.search("   ") == []
    assert retriever.search("量子引力弦论") == []


def test_a_question_about_one_guide_field_gets_that_field(retriever) -> None:  # type: ignore[no-untyped-def]
    hit = retriever.search("結婚登記要帶什麼", top_k=1)[0]
    assert hit.doc_id == "G-MARRY" and hit.passages[0].field == "materials"
    hit = retriever.search("结婚登记在哪里办", top_k=1)[0]
    assert hit.doc_id == "G-MARRY" and hit.passages[0].field == "location"
    hit = retriever.search("护照办下来要多久", top_k=1)[0]
    assert hit.doc_id == "G-PASSPORT" and hit.passages[0].field == "time_limit_promised"


def test_english_function_words_are_not_indexed_words() -> None:
    from retrieval.tokenize import BIGRAM_MARK, Tokenizer

    tok = Tokenizer()
    assert tok.words("how do i apply for a passport") == ["apply", "passport"]
    assert tok.bigrams("apply for a passport") == [BIGRAM_MARK + "apply", BIGRAM_MARK + "passport"]
