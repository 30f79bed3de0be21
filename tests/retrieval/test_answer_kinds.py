"""Answer-kind cues: a free-text passage holding the kind of answer a question asks for ranks higher."""

from __future__ import annotations

from retrieval.normalize import normalize_query
from retrieval.ranking import FusionParams, answer_kinds, asked_kinds, collapse
from retrieval.types import DocType, Passage


def _faq(doc_id: str, text: str) -> Passage:
    return Passage(id=f"{doc_id}#0", doc_id=doc_id, field="faq", text=text, title="常見問答",
                   doc_type=DocType.FAQ)


def test_questions_and_passages_are_classified_after_normalisation() -> None:
    assert asked_kinds(normalize_query("請問托嬰中心收費多少錢？")) == ("money",)
    assert "phone" in asked_kinds(normalize_query("申請補貼的聯絡窗口？"))
    assert "route" in asked_kinds(normalize_query("該如何前往活動地點？"))
    assert answer_kinds("收托費用為每月1萬1,000元。") == frozenset({"money"})
    assert "phone" in answer_kinds("聯絡電話：02-2720-8889 轉分機1615")
    assert answer_kinds("本中心提供托育服務。") == frozenset()


def test_the_passage_with_the_asked_kind_of_answer_wins_a_close_call() -> None:
    passages = {p.id: p for p in (_faq("about", "托嬰中心提供零至二歲幼兒的托育服務"),
                                  _faq("fee", "托嬰中心收托費用為每月1萬1,000元"))}
    scores = {"about#0": 1.0, "fee#0": 0.95}
    query = normalize_query("托嬰中心收費多少錢")
    boosted = collapse(scores, passages, query, FusionParams(title_beta=0.0))
    plain = collapse(scores, passages, query, FusionParams(title_beta=0.0, answer_beta=0.0))
    assert [d.doc_id for d in plain] == ["about", "fee"]
    assert [d.doc_id for d in boosted] == ["fee", "about"]
