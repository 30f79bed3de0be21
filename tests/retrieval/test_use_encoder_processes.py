"""Index-time embedding in worker processes (retrieval.use_encoder): the same vectors as in-process, in the
same order, with progress; small batches never start a process; no worker outlives the work; a pool that
cannot start falls back to in-process encoding."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import pytest

from core.settings import Settings
from retrieval.config import RetrievalConfig
from retrieval.embed_cache import EmbeddingCache
from retrieval.embedder import FakeEmbedder, load_embedder
from retrieval.use_encoder import UseEncoder, resolve_processes, usable_cores


@functools.cache
def base() -> UseEncoder:
    """In-process, loaded once per test session."""
    enc = load_embedder("packaged:use-multilingual-v3")
    assert isinstance(enc, UseEncoder)
    return enc


def pooled(chunk: int = 8) -> UseEncoder:
    """Two worker processes sharing nothing with ``base`` but its weights in this process."""
    enc = base()
    return UseEncoder(enc._backend, enc._sp, processes=2, chunk=chunk)


def mixed(n: int = 60) -> list[str]:
    """Simplified, Traditional, English, mixed, empty and long texts."""
    rng = random.Random(12)
    pool = ["办理居住证需要带哪些材料", "結婚登記要帶什麼證件", "How do I renew my passport?",
            "护照 passport 丢了怎么办", "孩子刚出生上户口要带啥", "營業登記申請流程與應備文件",
            "12345 热线", "第一条 为了规范政务服务事项办理，制定本办法。", "a", "", "😀",
            "Residence permit renewal: bring your ID card and proof of address.",
            "老年人優待證如何申請？請攜帶身分證正本及一吋照片一張。"]
    texts = []
    for i in range(n):
        text = rng.choice(pool)
        texts.append(text * rng.choice((1, 1, 2, 6)) + ("" if i % 7 else f" 第{i}号"))
    return texts


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.model
def test_worker_processes_give_the_in_process_vectors_in_input_order() -> None:
    texts = mixed(60)
    here = base().encode(texts)
    enc = pooled(chunk=8)  # 8 chunks over 2 workers
    assert enc.processes_for(len(texts)) == 2
    before = children()
    done: list[int] = []
    there = enc.encode(texts, progress=done.append)
    assert there.shape == here.shape == (60, 512) and there.dtype == np.float32
    cosines = np.sum(here * there, axis=1) / (np.linalg.norm(here, axis=1) * np.linalg.norm(there, axis=1))
    assert float(cosines.min()) >= 0.9999
    assert sum(done) == 60 and len(done) == 8  # one progress report per chunk
    assert children() <= before  # a lone call shuts its workers down


@pytest.mark.model
def test_a_small_batch_or_a_query_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    enc = pooled(chunk=8)

    def refuse(workers: int) -> None:
        raise AssertionError("a small batch started worker processes")

    monkeypatch.setattr(enc, "_new_pool", refuse)
    before = children()
    assert enc.processes_for(15) == 1 and enc.processes_for(16) == 2
    vecs = enc.encode(mixed(15))
    query = enc.encode(["护照怎么补办"])
    assert children() == before
    assert np.allclose(vecs, base().encode(mixed(15)), atol=1e-5)
    assert np.allclose(query, base().encode(["护照怎么补办"]), atol=1e-5)


@pytest.mark.model
def test_a_batch_block_keeps_its_workers_until_it_ends() -> None:
    enc = pooled(chunk=4)
    before = children()
    with enc.batch():
        first = enc.encode(mixed(20))
        workers = children() - before
        second = enc.encode(mixed(24))
        assert len(workers) >= 1 and workers <= children()  # the same workers served the second call
    assert children() <= before
    assert np.allclose(first, base().encode(mixed(20)), atol=1e-5)
    assert np.allclose(second, base().encode(mixed(24)), atol=1e-5)


@pytest.mark.model
def test_workers_that_cannot_start_fall_back_to_in_process(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    enc = pooled(chunk=4)

    def broken(workers: int) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(enc, "_new_pool", broken)
    done: list[int] = []
    with caplog.at_level(logging.WARNING, logger="retrieval.use_encoder"):
        vecs = enc.encode(mixed(20), progress=done.append)
    assert np.allclose(vecs, base().encode(mixed(20)), atol=1e-5)
    assert sum(done) == 20
    assert "in-process" in caplog.text
    assert enc.processes_for(1000) == 1  # and it does not try again


@pytest.mark.model
def test_embedding_processes_is_one_setting() -> None:
    assert Settings().embedding_processes == 0
    assert RetrievalConfig.of(Settings(embedding_processes=1)).embedding_processes == 1
    assert resolve_processes(0) == usable_cores() and resolve_processes(1) == 1
    assert load_embedder("packaged:use-multilingual-v3", processes=0).processes == usable_cores()


def test_the_cache_keeps_one_worker_block_for_a_whole_build(tmp_path: Path) -> None:
    """EmbeddingCache embeds in steps of 2048 texts; an embedder with ``batch()`` gets one block around
    all of them, so its workers start once per build, not once per step."""
    events: list[str] = []

    class Blocky(FakeEmbedder):
        @contextmanager
        def batch(self) -> Iterator[None]:
            events.append("start")
            yield
            events.append("end")

        def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
            events.append("encode")
            return super().encode(texts, batch_size)

    emb = Blocky(dim=16)
    cache = EmbeddingCache(tmp_path / "embeddings.db", emb.name, emb.dim)
    try:
        cache.encode(emb, [f"passage {i}" for i in range(5000)])
    finally:
        cache.close()
    assert events == ["start", "encode", "encode", "encode", "end"]
