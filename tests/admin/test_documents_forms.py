"""The documents pages' helpers without a server: the form's validation (archive/validate.py, every broken
field at once), the list's query, and the field-by-field diff."""

from __future__ import annotations

import pytest

from app.admin.doc_diff import CHAR_DIFF_LIMIT, Piece, diff_documents, list_items, sentences, text_pieces
from app.admin.doc_forms import document_from_form, document_values, error_field, listing_from_query
from app.admin.documents import CONSOLE_MOVES, moves_from, status_after_edit
from archive.models import TRANSITIONS, DocType, Document, Status
from archive.validate import RecordError, document_from_record
from core.errors import InvalidInput


def test_every_broken_field_is_reported_at_once_with_the_validators_message() -> None:
    result = document_from_form({"id": "has space", "title": " ", "body": "", "type": "memo",
                                 "issued_on": "2024-02-30", "valid_from": "2025-01-01",
                                 "valid_until": "2024-12-31"}, max_body_chars=100)
    assert result.document is None
    assert set(result.errors) == {"id", "title", "body", "type", "issued_on", "valid_until"}
    assert result.errors["issued_on"] == "issued_on: '2024-02-30' is not a valid date (use yyyy-mm-dd)"
    assert result.errors["valid_until"] == "valid_until 2024-12-31 is before valid_from"
    too_long = document_from_form({"id": "a", "title": "t", "body": "长" * 101}, max_body_chars=100)
    assert too_long.errors == {"body": "body has 101 characters; the limit is 100"}


def test_error_field_names_the_field_of_each_validator_error() -> None:
    cases = {"id": {"title": "t", "body": "b"}, "title": {"id": "a", "body": "b"},
             "issued_on": {"id": "a", "title": "t", "body": "b", "issued_on": "tomorrow"},
             "keywords": {"id": "a", "title": "t", "body": "b", "keywords": 5}}
    for name, record in cases.items():
        with pytest.raises(RecordError) as caught:
            document_from_record(record)
        assert error_field(caught.value) == name


def test_a_new_document_is_a_draft_and_an_edit_keeps_id_and_lifecycle_fields() -> None:
    created = document_from_form({"id": "G-1", "title": "t", "body": "b", "status": "published",
                                  "type": "guide", "steps": "预约\r\n到场；取号\n\n"}, 1000).document
    assert created is not None
    assert (created.status, created.type) == (Status.DRAFT, DocType.GUIDE)
    assert created.steps == ["预约", "到场；取号"]  # one item per line, 「；」 inside an item kept
    old = Document(id="P-1", title="旧", body="b", status=Status.PUBLISHED, status_reason="r",
                   replaced_by="X")
    edited = document_from_form({"id": "EVIL", "title": "新", "body": "b2", "status": "abolished"}, 1000,
                                existing=old).document
    assert edited is not None
    assert (edited.id, edited.title, edited.status, edited.status_reason, edited.replaced_by) == (
        "P-1", "新", Status.PUBLISHED, "r", "X")
    # a field the form does not send keeps its value; the form shows lists one item per line
    values = document_values(Document(id="G", title="t", body="b", materials=["甲", "乙"],
                                      keywords=["a", "b"]))
    assert (values["materials"], values["keywords"]) == ("甲\n乙", "a、b")


def test_the_list_query_is_checked() -> None:
    params = {"q": " 居住证 ", "type": "guide", "issued_from": "2024年5月1日", "page": "3"}
    listing = listing_from_query(params, "2026-01-01")
    assert (listing.query.text, listing.query.type, listing.query.issued_from, listing.page) == (
        "居住证", "guide", "2024-05-01", 3)
    for bad in ({"type": "memo"}, {"validity": "soon"}, {"issued_to": "2024-13-01"}, {"page": "x"},
                {"q": "字" * 201}):
        with pytest.raises(InvalidInput):
            listing_from_query(bad, "2026-01-01")


def test_text_diff_marks_removed_and_added_runs_and_rebuilds_both_sides() -> None:
    pieces = text_pieces("持身份证到窗口办理。", "持身份证和户口簿到窗口或网上办理。")
    assert Piece("added", "和户口簿") in pieces and Piece("added", "或网上") in pieces
    for a, b in (("甲乙丙", "甲丁丙"), ("", "新"), ("旧", "")):
        got = text_pieces(a, b)
        assert "".join(p.text for p in got if p.kind != "added") == a
        assert "".join(p.text for p in got if p.kind != "removed") == b


def test_a_long_body_is_compared_sentence_by_sentence() -> None:
    body = "".join(f"第{n}条 内容{n}。" for n in range(2000))
    assert len(body) > CHAR_DIFF_LIMIT and "".join(sentences(body)) == body
    changed = body.replace("第1000条 内容1000。", "第1000条 新内容。")
    pieces = text_pieces(body, changed)
    assert "".join(p.text for p in pieces if p.kind != "added") == body
    assert "".join(p.text for p in pieces if p.kind != "removed") == changed
    assert [p.text for p in pieces if p.kind == "added"] == ["新"]


def test_list_diff_and_document_diff() -> None:
    assert list_items(["a", "b"], ["b", "c"]) == [
        Piece("removed", "a"), Piece("same", "b"), Piece("added", "c")]
    old = Document(id="g", title="t", body="b", materials=["甲"], status=Status.DRAFT)
    new = Document(id="g", title="t", body="b2", materials=["甲", "乙"], status=Status.REVIEW, version=2)
    diffs = {d.name: d for d in diff_documents(old, new)}
    assert set(diffs) == {"body", "materials", "status"}  # bookkeeping (version) is not content
    assert diffs["materials"].is_list
    assert (diffs["status"].before, diffs["status"].after) == ("draft", "review")


def test_console_moves_are_transitions_that_never_publish_a_draft_or_a_review() -> None:
    assert all(dst in TRANSITIONS[src] for src, dst in CONSOLE_MOVES)
    assert (Status.DRAFT, Status.PUBLISHED) not in CONSOLE_MOVES
    assert (Status.REVIEW, Status.PUBLISHED) not in CONSOLE_MOVES
    assert moves_from(Status.PUBLISHED) == [Status.EXPIRED, Status.ABOLISHED]
    assert moves_from(Status.EXPIRED) == [Status.ABOLISHED, Status.PUBLISHED]
    assert moves_from(Status.ABOLISHED) == [Status.PUBLISHED]
    assert moves_from(Status.DRAFT) == moves_from(Status.REVIEW) == []
    doc = Document(id="d", title="t", body="b")
    for status, after in ((Status.DRAFT, Status.DRAFT), (Status.REVIEW, Status.REVIEW),
                          (Status.PUBLISHED, Status.REVIEW)):
        doc.status = status
        assert status_after_edit(doc) is after
    for status in (Status.EXPIRED, Status.ABOLISHED):
        doc.status = status
        with pytest.raises(InvalidInput):
            status_after_edit(doc)


def test_an_edit_keeps_provenance_and_original_and_unflags_only_the_extracted_values_it_changed() -> None:
    existing = Document(id="P-9", title="关于加强管理的通知", body="正文。", doc_no="示政发〔2024〕3号",
                        issuer="示范市人民政府", issued_on="2024-03-05", status=Status.DRAFT,
                        source="/home/originals/ab.pdf", origin="province", origin_level="province",
                        origin_id="P-1", extracted=["doc_no", "issuer", "issued_on"])
    form = {**document_values(existing), "doc_no": "示政发〔2024〕4号"}  # the editor corrects the 文号
    edited = document_from_form(form, 1000, existing).document
    assert edited is not None
    assert (edited.origin, edited.origin_level, edited.origin_id) == ("province", "province", "P-1")
    assert edited.source == "/home/originals/ab.pdf"
    assert edited.extracted == ["issuer", "issued_on"]  # still to check; the 文号 is a person's now
