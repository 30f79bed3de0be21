from archive.models import DocType, Document
from retrieval.passages import MAX_CHARS, chunk, sections, split
from tests.retrieval.corpus import docs


def _doc(doc_id: str) -> Document:
    return next(d for d in docs() if d.id == doc_id)


def test_guide_fields_are_their_own_passages_under_the_title() -> None:
    ps = split(_doc("G-MARRY"))
    fields = [p.field for p in ps]
    assert fields[0] == "overview"
    for name in ("materials", "location", "hours", "fees", "time_limit_promised", "steps", "conditions",
                 "phone"):
        assert name in fields
    fees = next(p for p in ps if p.field == "fees")
    assert fees.text == "收费标准：免费"
    assert fees.index_text.startswith("结婚登记")  # stands on its own for the indexes
    materials = next(p for p in ps if p.field == "materials")
    assert "1. 双方有效居民身份证原件" in materials.text and "2. " in materials.text
    assert all(p.doc_id == "G-MARRY" and p.doc_type == DocType.GUIDE for p in ps)
    assert {p.issuer for p in ps} == {"示范市民政局"}
    assert [p.id for p in ps] == [f"G-MARRY#{i}" for i in range(len(ps))]


def test_policy_is_split_by_article() -> None:
    ps = split(_doc("P-RES-NEW"))
    assert [p.field for p in ps] == ["section"] * 3
    assert ps[1].text.startswith("第二条") and ps[2].text.startswith("第三条")


def test_policy_numbered_headings_and_markdown() -> None:
    body = ("# 总则\n本规定适用于全市。各部门应当遵照执行，不得擅自变更。\n"
            "## 申请\n一、申请人应当提交身份证明和收入证明材料原件。\n"
            "二、审核\n审核部门应当在十个工作日内作出决定。")
    secs = sections(body)
    assert len(secs) == 3
    assert secs[0].startswith("# 总则") and secs[1].startswith("## 申请") and secs[2].startswith("二、")


def test_long_sections_are_cut_with_overlap() -> None:
    sentence = "申请人应当如实提交材料并对其真实性负责。"
    text = sentence * 80
    pieces = chunk(text)
    assert len(pieces) > 1
    assert all(len(p) <= MAX_CHARS for p in pieces)
    assert pieces[1].startswith(sentence)  # the overlap repeats whole sentences
    assert "".join(pieces).count(sentence) > 80


def test_faq_is_question_and_answer() -> None:
    (p,) = split(_doc("F-BOOK"))
    assert p.field == "faq"
    assert p.text.startswith("大部分事项不需要预约")
    assert p.index_text.startswith("到政务服务大厅办事需要提前预约吗？")
