"""Question-to-question matching: documents' names (titles, keywords) in the dense index."""

from __future__ import annotations

from dataclasses import replace

from archive.models import DocType, Document
from archive.store import Archive
from retrieval.embedder import FakeEmbedder
from retrieval.passages import name_owner, names, shared_titles
from retrieval.ranking import FusionParams


def test_names_are_the_title_and_each_keyword_unless_the_title_is_a_shared_heading() -> None:
    doc = Document(id="G1", title="结婚登记", body="…", type=DocType.GUIDE,
                   keywords=["领结婚证", "结婚登记", "x", "register a marriage"])
    assert names(doc) == [("G1@t", "title", "结婚登记"), ("G1@k0", "keyword", "领结婚证"),
                          ("G1@k3", "keyword", "register a marriage")]
    assert names(doc, {"结婚登记"})[0] == ("G1@k0", "keyword", "领结婚证")
    assert shared_titles(["警察局常見問答"] * 3 + ["结婚登记", "结婚登记"]) == {"警察局常見問答"}
    assert name_owner("G1@k3") == ("G1", "keyword") and name_owner("G1@t") == ("G1", "title")
    assert name_owner("G1#0") is None


def test_a_question_put_like_a_documents_name_finds_it_through_the_name(make_retriever) -> None:  # type: ignore[no-untyped-def]
    # dense side alone, passages weighed 0: only the names can rank anything
    fusion = FusionParams(signals="dense", dense_alpha=0.0, title_alpha=1.0, keyword_alpha=1.0,
                          name_floor=0.2)
    retriever = make_retriever(embedder=FakeEmbedder(), fusion_params=fusion)
    dense_ids = retriever._state.dense.ids
    assert "G-MARRY@t" in dense_ids and "G-MARRY@k0" in dense_ids
    hits = retriever.search("婚姻登记")  # one of the guide's keywords
    assert hits and hits[0].doc_id == "G-MARRY"
    assert hits[0].passages  # the document is shown with its passages, not with the name
    # without the names' weight the same ranking has nothing
    retriever.fusion = replace(fusion, title_alpha=0.0, keyword_alpha=0.0)
    assert retriever.search("婚姻登记") == []


def test_a_changed_document_replaces_its_names(make_retriever, archive: Archive) -> None:  # type: ignore[no-untyped-def]
    retriever = make_retriever(embedder=FakeEmbedder())
    doc = archive.get("G-MARRY")
    archive.upsert(replace(doc, keywords=["领证"]))
    retriever.refresh()
    ids = set(retriever._state.dense.ids)
    assert "G-MARRY@k0" in ids and "G-MARRY@k1" not in ids
    assert retriever._state.dense.vector("G-MARRY@k0") is not None
