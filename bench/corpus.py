"""Benchmark corpora: real government documents, republished per district, to any size.

The base documents are the real ones in ``../shared/data`` (Taipei FAQ answers, Guangdong service guides:
4093 documents, about 16k passages) or, in a fresh clone without it, the repo's demo corpus.  A corpus of N
passages takes the base documents and then *district editions* of them (``district_copy``) until their
passages reach N.  An edition is what a district's portal publishes for the same matter: the title and
issuer name the district, the city names in every field become the district's, and the fields a district
sets itself are its own — address (``location``), phone, office hours — with phone numbers inside FAQ
answers replaced and a closing line naming the district's service centre.  So every passage of every edition
is a distinct text that the real model embeds; editions stay close to their original (near-paraphrases,
as real district editions are), and ``bench.retrieval`` reports how close (cosine of edition vs original).

The order is stable: the first N passages of a larger corpus are the corpus of N, so the vectors embedded
for one size (cached by content hash, ``retrieval.embed_cache``) serve every smaller one.  Above the real
vectors' size (``REAL_MAX``) the component benchmark adds ``perturbed_vectors`` of the real ones.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from archive.models import DocType, Document
from core.settings import REPO_ROOT

SHARED = REPO_ROOT.parent / "shared" / "data"
DEMO = REPO_ROOT / "archive" / "demo"
CACHE = REPO_ROOT / "var" / "bench"
REAL_MAX = 100_000  # passages with real embeddings; above it, real vectors plus noise (bench.retrieval)
DISTRICTS = ("东区", "西区", "南区", "北区", "中区", "新城区", "老城区", "高新区", "港区", "滨海区",
             "山区", "湖区", "河东区", "河西区", "开发区", "临空区")
DISTRICTS_TW = ("東區", "西區", "南區", "北區", "中區", "新城區", "老城區", "高新區", "港區", "濱海區",
                "山區", "湖區", "河東區", "河西區", "開發區", "臨空區")
_ROUNDS = "一二三四五六七八九十"
_STREETS = ("人民路", "中山路", "解放路", "建设路", "文化路", "新华路", "和平路", "胜利路", "朝阳路",
            "东风路", "迎宾大道", "滨江路", "青年路", "府前路", "学府路", "工业大道")
_HOURS = ("周一至周五上午9:00-12:00，下午14:00-17:30（法定节假日除外）",
          "工作日8:30-12:00、14:30-17:30；周六上午9:00-12:00",
          "周一至周六9:00-17:00（中午不休）",
          "工作日9:00-12:00、13:30-17:00，每周三延时服务至19:00",
          "周一至周日8:30-18:00（节假日轮休，以窗口公告为准）")
_CITY = re.compile(r"广东省(?!人民政府|生态|[^，。、\s]{0,6}厅)"
                   r"|(?:广东省)?(?:广州|中山|深圳|佛山|东莞|珠海|惠州|江门|汕头|湛江|茂名|肇庆|梅州"
                   r"|汕尾|河源|阳江|清远|潮州|揭阳|云浮|韶关)市")
_LEVEL = re.compile(r"(?:省|市)级")
_CITY_TW = re.compile(r"(?:臺北市|台北市|本市)")
_PHONE = re.compile(r"(?<!\d)(?:\(0\d{1,3}\)|0\d{1,3})[-\s]?\d{3,4}[-\s]?\d{4}(?!\d)")


def _generic(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def base_documents() -> tuple[list[Document], str]:
    """The real documents (or the demo corpus) and a description of where they came from."""
    from archive.importers import gd
    from archive.validate import document_from_record

    records: list[dict[str, Any]] = []
    if (SHARED / "taipei-faq" / "docs.jsonl").exists():
        records += _generic(SHARED / "taipei-faq" / "docs.jsonl")
    if (SHARED / "gd-service-guides" / "service_guides.jsonl").exists():
        seen: set[str] = set()
        for raw in _generic(SHARED / "gd-service-guides" / "service_guides.jsonl"):
            rec = gd.to_generic(raw)
            if rec.get("id") and rec["id"] not in seen:
                seen.add(rec["id"])
                records.append(rec)
    source = "../shared/data (taipei-faq docs, gd-service-guides)"
    if not records:
        for name in ("guides.jsonl", "policies.jsonl", "faqs.jsonl"):
            records += _generic(DEMO / name)
        source = "archive/demo"
    docs = []
    for rec in records:
        try:
            docs.append(document_from_record(rec))
        except Exception:  # a malformed record is simply not part of the benchmark corpus
            continue
    return docs, f"{source}: {len(docs)} documents"


def _digits(*parts: object, n: int) -> str:
    value = int.from_bytes(hashlib.sha1("|".join(map(str, parts)).encode("utf-8")).digest()[:8], "big")
    return str(value % 10**n).zfill(n)


def district_name(copy: int, traditional: bool = False) -> str:
    """The district of edition ``copy`` (1, 2, …; 0 is the original): 16 districts, then their 二片区…"""
    names = DISTRICTS_TW if traditional else DISTRICTS
    base = names[copy % len(names)]
    rounds = copy // len(names)
    if rounds == 0:
        return base
    return f"{base}{_ROUNDS[min(rounds, len(_ROUNDS) - 1)]}{'片區' if traditional else '片区'}"


def district_copy(doc: Document, copy: int) -> Document:
    """Edition ``copy`` of ``doc`` as a district publishes it (copy 0 is the original); see the module doc."""
    if copy == 0:
        return doc
    traditional = doc.type == DocType.FAQ and bool(_CITY_TW.search(doc.issuer + doc.title + doc.body))
    d = district_name(copy, traditional)
    city = f"示範市{d}" if traditional else f"示范市{d}"
    phone = f"0{_digits(doc.id, copy, 'area', n=3)}-{_digits(doc.id, copy, 'phone', n=8)}"

    def local(text: str) -> str:
        text = (_CITY_TW if traditional else _CITY).sub(city, text)
        return _PHONE.sub(phone, text)

    def level(text: str) -> str:  # a district edition is the district's own (区级) matter
        return _LEVEL.sub("区级", local(text))

    street = _STREETS[int(_digits(doc.id, copy, "street", n=4)) % len(_STREETS)]
    number = int(_digits(doc.id, copy, "no", n=3)) + 1
    floor = int(_digits(doc.id, copy, "floor", n=1)) % 4 + 1
    window = int(_digits(doc.id, copy, "window", n=2)) + 1
    location = f"{city}{street}{number}号{d}政务服务中心{floor}楼{window}号窗口"
    body = local(doc.body)
    if doc.type == DocType.FAQ:
        closing = (f"如有疑問，請洽{d}服務中心，電話{phone}。" if traditional
                   else f"如有疑问，请咨询{d}政务服务中心，电话{phone}。")
        body = f"{body}\n{closing}"
    elif doc.location:
        body = body.replace(local(doc.location), location)
    hours = _HOURS[int(_digits(doc.id, copy, "hours", n=4)) % len(_HOURS)] if doc.hours else ""
    return replace(
        doc, id=f"{doc.id}~{copy}", title=f"{doc.title}（{d}）", issuer=f"{d}{local(doc.issuer)}",
        url=f"{doc.url}#{copy}" if doc.url else "", body=body, summary=level(doc.summary),
        location=location if doc.location else "", phone=phone if doc.phone else "", hours=hours,
        conditions=local(doc.conditions), steps=[local(s) for s in doc.steps],
        materials=[local(m) for m in doc.materials],
    )


@dataclass(frozen=True)
class CorpusPassage:
    text: str  # what the index embeds and tokenises (``Passage.searchable``)
    key: str  # "<original doc id>#<ordinal>": the same passage in every edition
    copy: int  # 0 for the original document


def documents(size: int) -> Iterator[Document]:
    """Documents, originals first and then edition after edition, until their passages reach ``size``."""
    from retrieval import passages as passages_mod

    base, _ = base_documents()
    count, copy = 0, 0
    while count < size:
        for doc in base:
            if count >= size:
                return
            edition = district_copy(doc, copy)
            count += len(passages_mod.split(edition))
            yield edition
        copy += 1


def corpus_passages(size: int) -> list[CorpusPassage]:
    """The passages of ``documents(size)``, exactly as the index splits them (at least ``size`` of them)."""
    from retrieval import passages as passages_mod

    out = []
    for doc in documents(size):
        original, _, copy = doc.id.partition("~")
        for i, p in enumerate(passages_mod.split(doc)):
            out.append(CorpusPassage(p.searchable, f"{original}#{i}", int(copy or 0)))
    return out


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


def windows(texts: list[str], n: int, chars: int = 200) -> list[str]:
    """``n`` real passages of exactly ``chars`` characters, cut from the running text of ``texts``."""
    running = "".join(t.replace("\n", " ") for t in texts)
    return [running[i * chars:(i + 1) * chars] for i in range(min(n, len(running) // chars))]


def noise_for_cosine(cosine: float) -> float:
    """The ``perturbed_vectors`` noise that puts a copy at ``cosine`` from its (unit) original."""
    cosine = min(max(cosine, 0.05), 0.9999)
    return float(np.sqrt(1.0 / cosine**2 - 1.0))


def perturbed_vectors(base_vecs: np.ndarray, size: int, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """``size`` unit vectors: row i is base row i % len(base) (exact for the first copy), then noised.

    ``noise`` is the norm of the added Gaussian vector relative to the (unit) base vector; 0.3 puts a copy
    at cosine ~0.96 from its original, i.e. a near-paraphrase (``noise_for_cosine`` inverts this).
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
