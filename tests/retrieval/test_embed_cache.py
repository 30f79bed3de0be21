"""The embedding cache: a rebuild, a re-import or a refresh embeds only passages whose text changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from archive.store import Archive
from retrieval.embed_cache import CACHE_FILE, EmbeddingCache
from retrieval.embedder import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=32, name="counting")
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.embedded.extend(texts)
        return super().encode(texts, batch_size)


def test_cache_returns_the_stored_vector_and_embeds_each_text_once(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    cache = EmbeddingCache(tmp_path / CACHE_FILE, emb.name, emb.dim)
    first = cache.encode(emb, ["护照", "结婚登记", "护照"])
    assert emb.embedded == ["护照", "结婚登记"]
    again = cache.encode(emb, ["结婚登记", "护照", "新的"])
    assert emb.embedded == ["护照", "结婚登记", "新的"]
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[1], first[0])
    assert (cache.hits, cache.misses) == (3, 3)
    # another model (or dimension) never reads these vectors
    other = EmbeddingCache(tmp_path / CACHE_FILE, "other-model", emb.dim)
    other.encode(emb, ["护照"])
    assert emb.embedded[-1] == "护照" and len(cache) == 3 and len(other) == 1
    assert cache.prune(["护照"]) == 2 and len(cache) == 1 and len(other) == 1


def test_rebuild_and_refresh_embed_only_what_changed(make_retriever, archive: Archive) -> None:  # type: ignore[no-untyped-def]
    emb = CountingEmbedder()
    retriever = make_retriever(embedder=emb)
    built = len(emb.embedded)
    assert built > 10
    emb.embedded.clear()
    retriever.rebuild()
    assert emb.embedded == []  # every passage's vector came from the cache
    doc = archive.get("G-PASSPORT")
    archive.upsert(replace(doc, fees="每本160元"))
    assert retriever.refresh() == 1
    # only the edited field's passage is new text: the other passages of the re-indexed guide are cached
    assert len(emb.embedded) == 1 and "160" in emb.embedded[0]
    hits = retriever.search("护照 收费")
    assert hits and hits[0].doc_id == "G-PASSPORT"


def test_a_new_retriever_on_the_same_home_reuses_the_vectors(make_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    make_retriever(embedder=CountingEmbedder())
    for child in settings.paths.index_dir.iterdir():  # drop the index, keep the cache: a full rebuild
        if child.name != CACHE_FILE and not child.name.startswith(CACHE_FILE):
            import shutil

            shutil.rmtree(child) if child.is_dir() else child.unlink()
    emb = CountingEmbedder()
    retriever = make_retriever(embedder=emb)
    assert retriever.info()["dense"] and emb.embedded == []
