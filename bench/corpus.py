"""Benchmark corpora: real government passages, replicated and perturbed to any size.

The base passages come from ``../shared/data`` (Taipei FAQ answers split by paragraph, Guangdong service-guide
fields) or, in a fresh clone without it, from the repo's demo corpus.  A corpus of N passages repeats the
base with a perturbation per copy (a district and a case number appended), so the lexical index sees
realistic vocabulary and posting-list lengths and every passage is distinct.  Dense vectors for copies are
the base passage's real embedding plus small noise (see ``perturbed_vectors``), so they keep the topical
clustering of real embeddings; where even that is too costly the caller uses ``random_unit_vectors``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.settings import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "data"
DEMO = REPO_ROOT / "archive" / "demo"
CACHE = REPO_ROOT / "var" / "bench"
MAX_CHARS = 300
DISTRICTS = ("东区", "西区", "南区", "北区", "中区", "新城区", "老城区", "高新区", "港区", "滨海区",
             "山区", "湖区", "河东区", "河西区", "开发区", "临空区")
_SKIP_KEYS = re.compile(r"(code|id|url|type|num|state|level|tag|number)$", re.IGNORECASE)
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")


def _chunks(title: str, body: str) -> Iterator[str]:
    buf = ""
    for para in (p.strip() for p in body.splitlines()):
        if not para:
            continue
        if buf and len(buf) + len(para) > MAX_CHARS:
            yield f"{title}：{buf}"
            buf = ""
        buf = f"{buf} {para}".strip()
        while len(buf) > MAX_CHARS:
            yield f"{title}：{buf[:MAX_CHARS]}"
            buf = buf[MAX_CHARS - 50:]  # 50 characters of overlap
    if buf:
        yield f"{title}：{buf}"


def _generic_docs(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                doc = json.loads(line)
                yield from _chunks(str(doc.get("title", "")), str(doc.get("body", "")))


def _gd_guides(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = str(rec.get("TASK_NAME") or "")
            for key, value in rec.items():
                if (isinstance(value, str) and len(value) >= 8 and not _SKIP_KEYS.search(key)
                        and _HAS_CJK.search(value) and value != title):
                    yield from _chunks(title, value)


def base_passages() -> tuple[list[str], str]:
    """Unique real passages and a description of where they came from."""
    texts: list[str] = []
    sources = []
    if (SHARED / "taipei-faq" / "docs.jsonl").exists():
        texts += _generic_docs(SHARED / "taipei-faq" / "docs.jsonl")
        sources.append("taipei-faq/docs.jsonl")
    if (SHARED / "gd-service-guides" / "service_guides.jsonl").exists():
        texts += _gd_guides(SHARED / "gd-service-guides" / "service_guides.jsonl")
        sources.append("gd-service-guides/service_guides.jsonl")
    if not texts:
        for name in ("guides.jsonl", "policies.jsonl", "faqs.jsonl"):
            texts += _generic_docs(DEMO / name)
        sources.append("the repo's demo corpus (archive/demo)")
    unique = list(dict.fromkeys(texts))
    random.Random(0).shuffle(unique)
    return unique, ", ".join(sources) + f" ({len(unique)} unique passages)"


def queries(limit: int = 200) -> list[str]:
    """Real citizen questions (Taipei FAQ qrels) or demo FAQ titles."""
    path = SHARED / "taipei-faq" / "qrels.jsonl"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            found = [json.loads(line)["query"] for line in fh if line.strip()]
    else:
        with (DEMO / "faqs.jsonl").open(encoding="utf-8") as fh:
            found = [json.loads(line)["title"] for line in fh if line.strip()]
    random.Random(1).shuffle(found)
    return found[:limit]


def copy_suffix(copy: int, n: int) -> str:
    """What distinguishes copy ``copy`` of a base passage (copy 0 is the original)."""
    return "" if copy == 0 else f"（{DISTRICTS[copy % len(DISTRICTS)]}，第{n}号）"


def synthesise(base: list[str], size: int) -> list[str]:
    """``size`` distinct passages: the base, then perturbed copies of it."""
    b = len(base)
    return [base[i % b] + copy_suffix(i // b, i) for i in range(size)]


def perturbed_vectors(base_vecs: np.ndarray, size: int, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """``size`` unit vectors: row i is base row i % len(base) (exact for the first copy), then noised.

    ``noise`` is the norm of the added Gaussian vector relative to the (unit) base vector; 0.3 puts a copy
    at cosine ~0.96 from its original, i.e. a near-paraphrase.
    """
    b, dim = base_vecs.shape
    out = np.empty((size, dim), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, size, 65536):
        stop = min(size, start + 65536)
        rows = np.arange(start, stop)
        block = base_vecs[rows % b].astype(np.float32)
        jitter = rng.standard_normal((stop - start, dim)).astype(np.float32) * (noise / np.sqrt(dim))
        jitter[rows < b] = 0.0
        block += jitter
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def random_unit_vectors(size: int, dim: int, seed: int = 0) -> np.ndarray:
    out = np.empty((size, dim), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, size, 65536):
        stop = min(size, start + 65536)
        block = rng.standard_normal((stop - start, dim), dtype=np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def cache_key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:16]
