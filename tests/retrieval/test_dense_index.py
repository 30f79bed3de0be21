"""DenseIndex over real FAISS: flat, IVF and HNSW search, add/replace/remove, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.dense import DenseIndex, ivf_cells
from retrieval.embedder import FakeEmbedder


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def clustered_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 topic centres, the way passage embeddings bunch by subject."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    vecs = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def exact_top(vecs: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    return [list(np.argsort(-(vecs @ q))[:k]) for q in queries]


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_search_finds_each_vector_itself_first(kind: str) -> None:
    vecs = unit_vectors(2000)
    ids = [f"doc{i}#0" for i in range(len(vecs))]
    params = {"nprobe": 64} if kind == "ivf" else {}
    index = DenseIndex(32, kind, **params)
    index.add(ids, vecs)
    results = index.search(vecs[:50], k=5)
    assert len(index) == 2000
    assert [r[0][0] for r in results] == ids[:50]
    assert all(abs(r[0][1] - 1.0) < 1e-2 for r in results)
    assert all(r[0][1] >= r[-1][1] for r in results)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_recall_against_exact(kind: str) -> None:
    both = clustered_vectors(5100, seed=1)
    vecs, queries = both[:5000], both[5000:]
    index = DenseIndex.build([str(i) for i in range(len(vecs))], vecs, threshold=1000, kind=kind)
    assert index.kind == kind
    truth = exact_top(vecs, queries, 10)
    found = index.search(queries, 10)
    recall = np.mean([len({int(p) for p, _ in f} & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.9, recall


def test_build_is_flat_up_to_the_threshold() -> None:
    vecs = unit_vectors(100)
    ids = [str(i) for i in range(100)]
    assert DenseIndex.build(ids, vecs, threshold=100).kind == "flat"
    assert DenseIndex.build(ids, vecs, threshold=99).kind == "ivf"
    assert ivf_cells(100_000) == 632 and ivf_cells(1_000_000) == 2000
    empty = DenseIndex.build([], np.zeros((0, 24), dtype=np.float32), threshold=10)
    assert (empty.kind, empty.dim, len(empty)) == ("flat", 24, 0)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_remove_and_replace(kind: str) -> None:
    vecs = unit_vectors(400, seed=3)
    ids = [f"p{i}" for i in range(400)]
    index = DenseIndex(32, kind, nprobe=64)
    index.add(ids, vecs)
    assert index.remove(["p0", "p1", "missing"]) == 2
    assert "p0" not in index and len(index) == 398
    hits = index.search(vecs[:2], k=3)
    assert all(pid not in {"p0", "p1"} for row in hits for pid, _ in row)
    assert all(len(row) == 3 for row in hits)
    # re-adding an id replaces its vector: p5 now sits where p7 was
    index.add(["p5"], vecs[7:8])
    assert len(index) == 398
    top = index.search(vecs[7:8], k=2)[0]
    assert {pid for pid, _ in top} == {"p5", "p7"}
    assert index.search(vecs[5:6], k=1)[0][0][0] != "p5"


def test_hnsw_compacts_when_tombstones_grow() -> None:
    vecs = unit_vectors(100, seed=4)
    ids = [f"p{i}" for i in range(100)]
    index = DenseIndex(32, "hnsw")
    index.add(ids, vecs)
    index.remove(ids[:15])
    assert index.tombstones == 15
    index.remove(ids[15:25])  # 25 > 20% of 100 stored vectors
    assert index.tombstones == 0 and len(index) == 75
    assert index.search(vecs[30:31], k=1)[0][0][0] == "p30"
    np.testing.assert_allclose(index.vector("p30"), vecs[30], atol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_save_load_round_trip(tmp_path: Path, kind: str) -> None:
    emb = FakeEmbedder(dim=48)
    texts = [f"passport renewal step {i} at the civic centre" for i in range(300)]
    ids = [f"guide-{i}#{i % 3}" for i in range(300)]
    index = DenseIndex(48, kind, nprobe=32)
    index.add(ids, emb.encode(texts))
    index.remove(ids[:3])
    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense")
    assert (loaded.kind, loaded.dim, len(loaded)) == (kind, 48, 297)
    assert loaded.tombstones == index.tombstones
    query = emb.encode(["passport renewal step 42 at the civic centre"])
    assert loaded.search(query, 5) == index.search(query, 5)
    assert loaded.search(query, 1)[0][0][0] == "guide-42#0"
    loaded.add(["new#0"], emb.encode(["a brand new passage"]))  # labels keep counting after a load
    assert len(loaded) == 298 and "guide-42#0" in loaded
    np.testing.assert_allclose(loaded.vector("new#0"), emb.encode(["a brand new passage"])[0], atol=1e-3)
    assert loaded.remove(["guide-42#0"]) == 1
    assert loaded.search(query, 1)[0][0][0] != "guide-42#0"


def test_empty_and_mismatched_inputs() -> None:
    index = DenseIndex(8)
    assert index.search(np.ones((2, 8), dtype=np.float32), 3) == [[], []]
    with pytest.raises(ValueError):
        index.add(["a"], np.ones((1, 9), dtype=np.float32))
    with pytest.raises(ValueError):
        index.add(["a", "a"], np.ones((2, 8), dtype=np.float32))
    with pytest.raises(ValueError):
        DenseIndex(8, "lsh")


def test_load_of_a_generation_removed_under_the_reader_raises_file_not_found(tmp_path: Path) -> None:
    # IndexStore.read retries on FileNotFoundError; faiss's own error (or ids without vectors) would
    # have reached a reader racing a swap on a loaded machine
    from retrieval.dense import INDEX_FILE

    index = DenseIndex(32, "flat")
    index.add([f"d{i}#0" for i in range(10)], unit_vectors(10))
    index.save(tmp_path / "dense")
    (tmp_path / "dense" / INDEX_FILE).unlink()
    with pytest.raises(FileNotFoundError):
        DenseIndex.load(tmp_path / "dense")
    empty = DenseIndex(32, "flat")
    empty.save(tmp_path / "empty")
    assert len(DenseIndex.load(tmp_path / "empty")) == 0
