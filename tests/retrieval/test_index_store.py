"""IndexStore: generations swapped atomically, crash-safe rebuilds, in-place incremental updates."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.settings import REPO_ROOT
from retrieval.dense import DenseIndex
from retrieval.embedder import FakeEmbedder
from retrieval.index_store import IndexStore

EMB = FakeEmbedder(dim=16)


def dense_of(texts: dict[str, str]) -> DenseIndex:
    index = DenseIndex(16)
    index.add(list(texts), EMB.encode(list(texts.values())))
    return index


def build(store: IndexStore, texts: dict[str, str], seq: int) -> None:
    with store.build(change_seq=seq, model="fake") as tx:
        dense_of(texts).save(tx.component_dir("dense"))
        (tx.component_dir("lexical") / "vocab.txt").write_text("\n".join(texts.values()), encoding="utf-8")
        tx.write_json("fitness.json", {"model": "fake"})


def load_current(store: IndexStore) -> DenseIndex:
    snap = store.snapshot()
    assert snap is not None
    folder = snap.component("dense")
    assert folder is not None
    return DenseIndex.load(folder)


def test_empty_store_has_no_current(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    assert store.current() is None and store.snapshot() is None
    assert store.read_meta() == {} and store.change_seq() == 0 and store.component("dense") is None
    with pytest.raises(FileNotFoundError), store.update(change_seq=3):
        pass


def test_builds_swap_generations_and_clean_up(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"a#0": "bus pass"}, seq=5)
    assert store.current() == tmp_path / "index" / "gen-1"
    assert store.change_seq() == 5 and store.read_meta()["model"] == "fake"
    assert (store.current() / "fitness.json").exists()
    assert load_current(store).ids == ["a#0"]
    build(store, {"b#0": "parking permit"}, seq=9)
    assert store.current().name == "gen-2" and store.change_seq() == 9
    assert load_current(store).ids == ["b#0"]
    assert store.generations() == [1, 2]  # one previous generation kept for readers still opening it
    build(store, {"c#0": "library card"}, seq=12)
    assert store.generations() == [2, 3]


def test_exception_mid_build_keeps_the_old_generation(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"a#0": "bus pass"}, seq=1)
    with pytest.raises(RuntimeError), store.build(change_seq=2) as tx:
        dense_of({"b#0": "half"}).save(tx.component_dir("dense"))
        raise RuntimeError("embedding crashed")
    assert store.current().name == "gen-1" and store.change_seq() == 1
    assert load_current(store).ids == ["a#0"]
    assert store.generations() == [1]  # the half-written generation is gone


def test_killed_build_is_never_read_and_is_removed_later(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"a#0": "bus pass"}, seq=1)
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from retrieval.index_store import IndexStore\n"
        "with IndexStore(Path(sys.argv[1])).build(change_seq=2) as tx:\n"
        "    (tx.component_dir('dense') / 'dense.faiss').write_bytes(b'half an index')\n"
        "    os._exit(9)  # the process dies mid-build: no cleanup, no swap\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "index")], cwd=REPO_ROOT)
    assert proc.returncode == 9
    assert store.generations() == [1, 2]
    assert store.current().name == "gen-1" and load_current(store).ids == ["a#0"]
    build(store, {"c#0": "library card"}, seq=3)  # the lock was released with the dead process
    assert store.current().name == "gen-3"
    assert store.generations() == [1, 3]


def test_incremental_update_in_place(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"a#0": "bus pass", "b#0": "parking permit"}, seq=4)
    before = store.snapshot()
    assert before is not None
    index = load_current(store)
    index.remove(["a#0"])
    index.add(["d#0"], EMB.encode(["dog licence"]))
    with store.update(change_seq=7) as tx:
        index.save(tx.component_dir("dense"))
    after = store.snapshot()
    assert after is not None and after.path == before.path and after.change_seq == 7
    assert sorted(load_current(store).ids) == ["b#0", "d#0"]
    assert after.component("lexical") == before.component("lexical")  # untouched component kept
    old_dense = before.component("dense")
    assert old_dense is not None and old_dense.exists()  # a reader of the old meta can still open it
    with store.update(change_seq=8) as tx:
        index.save(tx.component_dir("dense"))
    assert not old_dense.exists()
    assert store.change_seq() == 8 and store.read_meta()["model"] == "fake"


def test_failed_update_changes_nothing(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"a#0": "bus pass"}, seq=4)
    meta = store.read_meta()
    with pytest.raises(ValueError), store.update(change_seq=6) as tx:
        folder = tx.component_dir("dense")
        raise ValueError("bad document")
    assert store.read_meta() == meta and not folder.exists()
    store.write_meta(note="checked")
    assert store.read_meta()["note"] == "checked" and store.change_seq() == 4


def test_readers_never_see_a_half_written_index(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    build(store, {"x#0": "seed"}, seq=0)
    errors: list[BaseException] = []
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                index = store.read(lambda snap: DenseIndex.load(snap.component("dense")))
                assert index is not None
                seen.add(tuple(index.ids))
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 8):
            build(store, {f"d{n}#{i}": f"passage {n} {i}" for i in range(50)}, seq=n)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert all(len(ids) in (1, 50) and len({i.split("#")[0] for i in ids}) == 1 for ids in seen)
    np.testing.assert_equal(store.change_seq(), 7)
