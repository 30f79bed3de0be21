"""Incremental refresh, full rebuild and reloading the index from disk."""

from __future__ import annotations

from archive.models import DocType, Document, Status
from retrieval.config import RetrievalConfig
from retrieval.service import Retriever


def test_refresh_picks_up_new_and_abolished_documents(retriever, archive) -> None:  # type: ignore[no-untyped-def]
    assert "G-NEW" not in [h.doc_id for h in retriever.search("独生子女父母奖励金")]
    gen = retriever.info()["generation"]
    archive.upsert(Document(id="G-NEW", type=DocType.GUIDE, title="独生子女父母奖励金申领",
                            issuer="示范市卫生健康委员会", body="符合条件的独生子女父母每月领取奖励金。",
                            fees="免费"))
    assert retriever.refresh() == 1
    hits = retriever.search("独生子女父母奖励金")
    assert hits and hits[0].doc_id == "G-NEW"
    assert retriever.info()["generation"] == gen  # incremental: same generation, new change seq
    archive.set_status("G-NEW", Status.ABOLISHED, reason="政策到期", replaced_by="G-MARRY")
    assert retriever.refresh() == 1
    hits = retriever.search("独生子女父母奖励金")
    assert hits[0].doc_id == "G-NEW" and not hits[0].is_current
    assert hits[0].superseded_by is not None and hits[0].superseded_by.id == "G-MARRY"
    assert retriever.refresh() == 0


def test_status_change_is_honoured_before_refresh(retriever, archive) -> None:  # type: ignore[no-untyped-def]
    archive.set_status("F-BOOK", Status.EXPIRED, reason="改版")
    hits = retriever.search("办事需要提前预约吗", top_k=5)
    assert hits[0].doc_id == "F-BOOK" and not hits[0].citation.is_current


def test_rebuild_swaps_a_new_generation_and_a_new_process_loads_it(
        retriever, settings, archive, make_retriever) -> None:  # type: ignore[no-untyped-def]
    before = retriever.info()["generation"]
    report = retriever.rebuild()
    assert int(report.generation) == before + 1
    assert report.documents == 10 and report.passages >= 20  # the draft is not indexed
    assert (settings.paths.index_dir / "CURRENT").read_text().strip() == f"gen-{report.generation}"
    other = make_retriever()  # loads the stored generation instead of building
    assert other.info()["generation"] == int(report.generation)
    assert other.search("结婚登记")[0].doc_id == "G-MARRY"


def test_a_failed_rebuild_leaves_the_old_index_serving(retriever, settings, archive, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest

    before = retriever.info()["generation"]

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr("retrieval.lexical.LexicalIndex.save", boom)
    with pytest.raises(RuntimeError):
        retriever.rebuild()
    monkeypatch.undo()
    assert retriever.search("结婚登记")[0].doc_id == "G-MARRY"
    fresh = Retriever(RetrievalConfig.of(settings), archive, embedder=retriever.embedder)
    fresh.warm_up()
    assert fresh.info()["generation"] == before


def test_changing_the_embedding_model_rebuilds_instead_of_mixing_vectors(
        retriever, make_retriever) -> None:  # type: ignore[no-untyped-def]
    from retrieval.embedder import FakeEmbedder

    before = retriever.info()["generation"]
    assert make_retriever().info()["generation"] == before  # same model: loaded as is
    other = make_retriever(embedder=FakeEmbedder(name="another-model"))
    assert other.info()["generation"] == before + 1


def test_rebuild_without_warm_up_still_rebuilds(retriever, settings, archive) -> None:  # type: ignore[no-untyped-def]
    before = retriever.info()["generation"]
    cold = Retriever(RetrievalConfig.of(settings), archive, embedder=retriever.embedder)
    report = cold.rebuild()
    assert int(report.generation) == before + 1 and report.passages > 0


def test_an_index_of_another_format_is_rebuilt_at_warm_up(retriever, settings, make_retriever) -> None:  # type: ignore[no-untyped-def]
    import json

    from retrieval.lifecycle import INDEX_FORMAT

    before = retriever.info()["generation"]
    meta_path = settings.paths.index_dir / f"gen-{before}" / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["format"] == INDEX_FORMAT
    meta["format"] = INDEX_FORMAT - 1  # as if written by an older release
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    upgraded = make_retriever()
    assert upgraded.info()["generation"] == before + 1
    assert upgraded.search("结婚登记")[0].doc_id == "G-MARRY"
