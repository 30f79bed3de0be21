"""The dense index: passage vectors in FAISS, searched by inner product (cosine on normalised vectors).

Kinds:

* ``flat`` — exact search (``IndexIDMap2(IndexFlatIP)``); the default below ``dense_index_threshold``.
* ``ivf`` — inverted lists over k-means cells with float16 vectors (``IndexIVFScalarQuantizer``); the default
  above the threshold.  Trains in seconds even at 1M passages on two cores, supports removal natively, and
  halves memory; ``nprobe`` trades recall for speed (see bench/RESULTS.md).
* ``hnsw`` — graph search (``IndexHNSWFlat``).  Fast queries, but building it on two cores costs minutes per
  100k passages and it cannot remove vectors: removed ids become tombstones filtered at search time, and the
  graph is rebuilt from the live vectors once tombstones pass ``COMPACT_AT`` of the index.

Passage ids are strings; FAISS labels are int64 assigned here, with the mapping saved next to the index.
Adding an id that is already present replaces its vector.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

KINDS = ("flat", "ivf", "hnsw")
TRAIN_POINTS_PER_CELL, TRAIN_ITERATIONS = 64, 10  # IVF k-means: sample and iterations (faiss: 256, 25)
COMPACT_AT = 0.2  # HNSW: rebuild when tombstones exceed this share of the stored vectors
INDEX_FILE, IDS_FILE, META_FILE = "dense.faiss", "dense_ids.json", "dense.json"

# Half the cores (one here): queries are answered one at a time, and a spinning OpenMP pool on cores shared
# with the Rasa engine costs more than it gains.
THREADS = max(1, (os.cpu_count() or 1) // 2)
_faiss: Any = faiss  # faiss ships partial type hints; the search-parameter classes are missing from them
Results = list[list[tuple[str, float]]]


def ivf_cells(n: int) -> int:
    """Number of IVF cells for ``n`` vectors: about 2·√n (632 at 100k, 2000 at 1M), each with at least 39
    training points.  Fewer, larger cells than the textbook 4·√n keep k-means training at 1M passages
    within a minute on two cores; ``nprobe`` scales with them so the share of the corpus scanned stays."""
    return max(1, min(int(2 * math.sqrt(max(n, 1))), n // 39 or 1, 8192))


def default_nprobe(nlist: int) -> int:
    """Cells visited per query: about 3% of them, at least 16 (recall@10 ≥ 0.99 at 100k, bench/RESULTS.md)."""
    return min(nlist, max(16, nlist // 32))


def _as_matrix(vecs: np.ndarray, dim: int) -> np.ndarray:
    arr = np.ascontiguousarray(vecs, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.shape[1] != dim:
        raise ValueError(f"vectors have dimension {arr.shape[1]}, the index {dim}")
    return arr


class DenseIndex:
    """String-keyed vector index over FAISS; see the module docstring for the kinds."""

    def __init__(self, dim: int, kind: str = "flat", *, nlist: int = 0, nprobe: int = 0,
                 hnsw_m: int = 32, ef_construction: int = 64, ef_search: int = 64) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown dense index kind {kind!r} (one of {', '.join(KINDS)})")
        self.dim, self.kind = dim, kind
        self.nlist, self.nprobe = nlist, nprobe
        self.hnsw_m, self.ef_construction, self.ef_search = hnsw_m, ef_construction, ef_search
        self._labels: dict[str, int] = {}  # passage id -> live label
        self._ids: dict[int, str] = {}  # live label -> passage id
        self._tombstones: set[int] = set()  # HNSW labels removed but still in the graph
        self._next = 0
        self._selector: Any = None
        faiss.omp_set_num_threads(THREADS)
        self._index: Any = self._empty() if kind != "ivf" else None

    # construction -------------------------------------------------------------------------------
    @classmethod
    def build(cls, ids: Sequence[str], vecs: np.ndarray, threshold: int, kind: str = "",
              **params: Any) -> DenseIndex:
        """A new index over ``ids``/``vecs``: flat up to ``threshold`` passages, else ``kind`` (ivf)."""
        arr = np.asarray(vecs)
        dim = int(arr.shape[1]) if arr.ndim == 2 else int(params.pop("dim", 384))
        chosen = "flat" if len(ids) <= threshold else (kind or "ivf")
        index = cls(dim, chosen, **params)
        index.add(ids, vecs)
        return index

    def _empty(self) -> Any:
        if self.kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        hnsw = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = self.ef_construction
        hnsw.hnsw.efSearch = self.ef_search
        return hnsw

    def _train_ivf(self, vecs: np.ndarray) -> None:
        self.nlist = self.nlist or ivf_cells(len(vecs))
        self.nprobe = self.nprobe or default_nprobe(self.nlist)
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, self.nlist, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = TRAIN_ITERATIONS
        sample = vecs
        limit = self.nlist * TRAIN_POINTS_PER_CELL
        if len(vecs) > limit:
            rows = np.random.default_rng(0).choice(len(vecs), limit, replace=False)
            sample = vecs[np.sort(rows)]
        index.train(sample)
        index.nprobe = self.nprobe
        index.set_direct_map_type(_faiss.DirectMap.Hashtable)
        self._index = index

    # updates ------------------------------------------------------------------------------------
    def add(self, ids: Sequence[str], vecs: np.ndarray) -> None:
        """Add (or replace) vectors; ``vecs`` rows should be L2-normalised."""
        if not len(ids):
            return
        arr = _as_matrix(vecs, self.dim)
        if len(ids) != len(arr):
            raise ValueError(f"{len(ids)} ids for {len(arr)} vectors")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        self.remove([i for i in ids if i in self._labels])
        if self._index is None:
            self._train_ivf(arr)
        labels = np.arange(self._next, self._next + len(ids), dtype=np.int64)
        if self.kind == "hnsw":
            assert self._next == self._index.ntotal, "HNSW labels are graph positions"
            self._index.add(arr)
        else:
            self._index.add_with_ids(arr, labels)
        for pid, label in zip(ids, labels.tolist(), strict=True):
            self._labels[pid] = label
            self._ids[label] = pid
        self._next += len(ids)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove these passage ids (unknown ids are ignored); returns how many were removed."""
        labels = [self._labels.pop(pid) for pid in ids if pid in self._labels]
        for label in labels:
            del self._ids[label]
        if not labels:
            return 0
        if self.kind == "hnsw":
            self._tombstones.update(labels)
            self._selector = None
            if len(self._tombstones) > COMPACT_AT * self._index.ntotal:
                self.compact()
        else:
            self._index.remove_ids(np.asarray(labels, dtype=np.int64))
        return len(labels)

    def compact(self) -> None:
        """Rebuild an HNSW graph from its live vectors, dropping tombstones."""
        if self.kind != "hnsw" or not self._tombstones:
            return
        live = sorted(self._ids)
        vecs = np.vstack([self._index.reconstruct(int(label)) for label in live]) if live else None
        pids = [self._ids[label] for label in live]
        self._index, self._labels, self._ids = self._empty(), {}, {}
        self._tombstones, self._selector, self._next = set(), None, 0
        if vecs is not None:
            self.add(pids, vecs)

    # queries ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, pid: object) -> bool:
        return pid in self._labels

    @property
    def ids(self) -> list[str]:
        return list(self._labels)

    @property
    def tombstones(self) -> int:
        return len(self._tombstones)

    def vector(self, pid: str) -> np.ndarray:
        label = self._labels[pid]
        return np.asarray(self._index.reconstruct(int(label)), dtype=np.float32)

    def _params(self, k: int) -> Any:
        if self.kind == "hnsw":
            params = _faiss.SearchParametersHNSW()
            params.efSearch = max(self.ef_search, k)
            if self._tombstones:
                if self._selector is None:
                    batch = faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64))
                    self._selector = (faiss.IDSelectorNot(batch), batch)  # keep the inner one alive
                params.sel = self._selector[0]
            return params
        if self.kind == "ivf":
            return _faiss.SearchParametersIVF(nprobe=self.nprobe)
        return None

    def search(self, qvecs: np.ndarray, k: int) -> Results:
        """Top ``k`` (passage id, inner product) per query row, best first."""
        arr = _as_matrix(qvecs, self.dim)
        if not len(self._labels) or k <= 0:
            return [[] for _ in range(len(arr))]
        k = min(k, len(self._labels))
        params = self._params(k)
        scores, labels = self._index.search(arr, k, params=params) if params else self._index.search(arr, k)
        out: Results = []
        for row_scores, row_labels in zip(scores, labels, strict=True):
            out.append([(self._ids[int(label)], float(score))
                        for score, label in zip(row_scores, row_labels, strict=True)
                        if label >= 0 and int(label) in self._ids])
        return out

    # persistence --------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the index, its id map and its parameters into ``directory`` (created if missing).

        Files are fsynced; making a save visible atomically is the job of ``IndexStore``.
        """
        directory.mkdir(parents=True, exist_ok=True)
        if self._index is not None:
            faiss.write_index(self._index, str(directory / INDEX_FILE))
        ids = {str(label): pid for label, pid in self._ids.items()}
        (directory / IDS_FILE).write_text(json.dumps(ids, ensure_ascii=False), encoding="utf-8")
        meta = {"dim": self.dim, "kind": self.kind, "nlist": self.nlist, "nprobe": self.nprobe,
                "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                "next": self._next, "tombstones": sorted(self._tombstones), "count": len(self)}
        (directory / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        for name in (INDEX_FILE, IDS_FILE, META_FILE):
            path = directory / name
            if path.exists():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())

    @classmethod
    def load(cls, directory: Path) -> DenseIndex:
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        index = cls(int(meta["dim"]), meta["kind"], nlist=meta["nlist"], nprobe=meta["nprobe"],
                    hnsw_m=meta["hnsw_m"], ef_construction=meta["ef_construction"],
                    ef_search=meta["ef_search"])
        ids = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        path = directory / INDEX_FILE
        if ids or path.exists():
            # a generation removed while a slow reader opens it must surface as FileNotFoundError (which
            # IndexStore.read retries on the new generation), never as faiss's RuntimeError or as an index
            # whose ids have no vectors
            try:
                index._index = faiss.read_index(str(path))
            except RuntimeError as exc:
                if not path.exists():
                    raise FileNotFoundError(str(path)) from exc
                raise
            if index.kind == "ivf":
                index._index.nprobe = index.nprobe
        index._ids = {int(label): pid for label, pid in ids.items()}
        index._labels = {pid: label for label, pid in index._ids.items()}
        index._next = int(meta["next"])
        index._tombstones = {int(t) for t in meta["tombstones"]}
        return index
