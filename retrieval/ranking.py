"""Hybrid ranking: fuse lexical and dense passage scores, boost title matches, collapse to documents and
mark the matching words in the best passages.

Fusion is a weighted sum of max-normalised scores: ``lexical/max + w · α · dense'`` where ``dense'`` is the
cosine rescaled to [0, 1] over the dense candidates, ``α`` (``FusionParams.dense_alpha``) is tuned on a
development set by ``evaluation.evaluate.tune`` and ``w`` is the per-query fitness weight from
``retrieval.fitness`` (0 when the embedding model cannot read the query's script, so such a model never
moves the ranking).  A score-based fusion keeps the lexical evidence's margins, which reciprocal-rank
fusion throws away (RRF with an unreadable model is what halved Recall@5 in the field guide).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.normalize import normalize, to_simplified
from retrieval.tokenize import Tokenizer
from retrieval.types import Passage

HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "【", "】"


SIGNALS = ("hybrid", "lexical", "dense")


@dataclass(frozen=True)
class FusionParams:
    signals: str = "hybrid"  # which evidence ranks: both, or one alone (`civic evaluate --signals`)
    # The weights below were fitted by grid search on both development sets (bench/RETRIEVAL_QUALITY.md:
    # the Taipei FAQ questions and the demo corpus's probe messages), with USE-multilingual-v3.
    dense_alpha: float = 0.15  # weight of the dense signal at full fitness
    # more weight to the dense side when the words match poorly: + dense_gate · (1 - coverage of the query by
    # the best lexical passage).  Measured: it helps the colloquial probes and costs the Taipei questions
    # more (R@5 -0.004 to -0.015), so it is off.
    dense_gate: float = 0.0
    # question-to-question matching: the dense similarity of the question to a document's names (a guide's
    # title, an FAQ's question, each keyword or English name), added to the document's score as
    # alpha · max(0, (cosine - name_floor) / (1 - name_floor)); a cosine below the floor is no evidence
    title_alpha: float = 0.2
    keyword_alpha: float = 0.4
    name_floor: float = 0.5
    title_beta: float = 0.3  # multiplicative boost for a query that names the document's title
    field_beta: float = 0.5  # boost of a guide field the question asks about (材料, 收费, 地点…)
    answer_beta: float = 0.1  # boost of a free-text passage that holds the kind of answer asked for
    passages_per_hit: int = 2
    # a current document scoring at least this share of a better-scoring expired/abolished one is answered
    # first (same-titled successors, this year's notice beside last year's); the old one then drops out
    current_tie: float = 0.85

    def __post_init__(self) -> None:
        if self.signals not in SIGNALS:
            raise ValueError(f"signals must be one of {', '.join(SIGNALS)}, not {self.signals!r}")
        if not 0.0 <= self.name_floor < 1.0:
            raise ValueError("name_floor must be in [0, 1)")

    @property
    def uses_lexical(self) -> bool:
        return self.signals != "dense"

    @property
    def uses_dense(self) -> bool:
        return self.signals != "lexical"

    def name_score(self, kind: str, cosine: float) -> float:
        """What a document's name of ``kind`` (``title`` / ``keyword``) matching at ``cosine`` adds."""
        alpha = self.title_alpha if kind == "title" else self.keyword_alpha
        return alpha * max(0.0, (cosine - self.name_floor) / (1.0 - self.name_floor))


_HOW_LONG = ("多久", "几天", "多长时间", "时限", "多少天", "办结", "什么时候能", "多少个工作日")
# What citizens say when they ask for one structured field of a service guide (normalised, Simplified).
FIELD_CUES: dict[str, tuple[str, ...]] = {
    "materials": ("材料", "带什么", "带哪些", "证件", "资料", "准备什么", "准备哪些", "需要什么", "要什么",
                  "提交什么", "携带", "证明"),
    "fees": ("多少钱", "收费", "费用", "钱", "免费", "价格", "工本费", "交多少", "缴费"),
    "location": ("在哪", "哪里", "地址", "地点", "去哪", "窗口", "大厅", "何处"),
    "hours": ("几点", "办公时间", "上班", "下班", "开门", "周末", "节假日", "营业时间", "时间"),
    "time_limit_legal": _HOW_LONG,
    "time_limit_promised": _HOW_LONG,
    "steps": ("流程", "步骤", "怎么办理", "如何办理", "怎么办", "程序", "手续", "怎么申请", "如何申请"),
    "conditions": ("条件", "资格", "能不能", "能否", "符合", "要求", "可以办吗", "谁可以"),
    "phone": ("电话", "联系", "咨询", "热线"),
    "online_url": ("网上", "在线", "网址", "app", "线上", "网站", "网办"),
}


# The same idea for free text (FAQ answers, policy sections), which has no fields to boost: what a
# question asks for (a phone number, an amount, a route, a place, a date, a web address, documents to
# bring) → a pattern of text that answers it.  Both sides normalised (Simplified, lower case, NFKC).
ANSWER_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    kind: (re.compile(ask), re.compile(answer))
    for kind, ask, answer in (
        ("phone", r"电话|联络|联系|窗口|洽询|专线|分机",
         r"\d{2,4}[-)）]\s?\d{3,4}-?\d{3,4}|1999|12345|分机|电话"),
        ("money", r"多少钱|收费|费用|金额|价格|多少元|补助多少|票价|罚款|罚锾|工本费|缴纳多少|几元",
         r"\d[\d,]*(?:\.\d+)?\s*(?:万|千)?元|新台币|人民币|nt\$|\$\d"),
        ("route", r"如何前往|怎么去|如何到|交通|搭乘|到达|抵达|怎么走",
         r"捷运|地铁|公车|公交|站|下车|步行|出口|停车"),
        ("place", r"在哪|哪里|何处|地点|地址|场所|位置", r"路\d|段\d|号|楼|地址|位于|[区市]\S{0,6}路"),
        ("time", r"何时|什么时候|时间|日期|几点|期间|多久|几天|期限",
         r"\d+月|\d+日|\d{1,2}:\d{2}|上午|下午|星期|周[一二三四五六日]|\d+天|工作日|年度"),
        ("url", r"网址|网站|网页|下载|线上|网路|网络|app", r"https?://|www\.|网站|网页|\.gov|\.tw|\.cn"),
        ("documents", r"检附|资料|文件|证件|带什么|准备什么|应备|证明",
         r"申请书|证明|影本|复印件|身份证|印章|照片|正本|誊本|证件|文件"),
    )
}


def asked_kinds(query_norm: str) -> tuple[str, ...]:
    """The kinds of answer (ANSWER_KINDS) a question asks for."""
    return tuple(k for k, (ask, _) in ANSWER_KINDS.items() if ask.search(query_norm))


@functools.lru_cache(maxsize=65536)
def answer_kinds(text: str) -> frozenset[str]:
    """The kinds of answer a passage's text holds."""
    flat = normalize(text)
    return frozenset(k for k, (_, answer) in ANSWER_KINDS.items() if answer.search(flat))


def asked_fields(query_norm: str) -> frozenset[str]:
    """The guide fields a question asks about, from FIELD_CUES."""
    return frozenset(f for f, cues in FIELD_CUES.items() if any(c in query_norm for c in cues))


def fuse(
    lexical: Sequence[tuple[str, float]],
    dense: Sequence[tuple[str, float]],
    dense_weight: float,
    passage_weight: dict[str, float] | None = None,
) -> dict[str, float]:
    """Passage id → fused score.

    ``dense_weight`` is ``α · fitness weight of the query``; ``passage_weight`` (default 1) is the fitness
    weight of each passage's own text, so a passage the model cannot read gets no dense score either.
    """
    fused: dict[str, float] = {}
    top_lex = max((s for _, s in lexical), default=0.0)
    if top_lex > 0:
        for pid, score in lexical:
            fused[pid] = score / top_lex
    if dense and dense_weight > 0:
        scores = [s for _, s in dense]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        for pid, score in dense:
            scaled = (score - lo) / span if span > 1e-9 else 1.0
            pw = passage_weight.get(pid, 0.0) if passage_weight is not None else 1.0
            fused[pid] = fused.get(pid, 0.0) + dense_weight * pw * scaled
    return fused


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"\W", "", text)
    if len(chars) < 2:
        return {chars} if chars else set()
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


@functools.lru_cache(maxsize=65536)
def _title_bigrams(title: str) -> frozenset[str]:
    return frozenset(_bigrams(normalize(title)))


def title_match(query_norm: str, title: str) -> float:
    """How completely the query names the title, in [0, 1]: share of the title's bigrams in the query.

    Squared so that a partial overlap (two words in common) counts little and a named service item
    (结婚登记 in "结婚登记要带什么") counts fully.
    """
    return _title_share(frozenset(_bigrams(query_norm)), title)


def _title_share(query_bigrams: frozenset[str], title: str) -> float:
    title_bi = _title_bigrams(title)
    if not title_bi:
        return 0.0
    share = len(title_bi & query_bigrams) / len(title_bi)
    return share * share


@dataclass
class DocScore:
    doc_id: str
    score: float
    passages: list[tuple[Passage, float]]


def collapse(
    scores: dict[str, float],
    passages: dict[str, Passage],
    query_norm: str,
    params: FusionParams,
    doc_bonus: dict[str, tuple[float, str]] | None = None,
) -> list[DocScore]:
    """Group passage scores by document (the best passage's score counts), boost the guide fields the
    question asks about and titles it names, and return documents best first with their best passages.

    ``doc_bonus`` maps a document to (score added to its best passage, id of the passage that stands for
    the document when none of its passages scored): the question-to-question evidence of its names."""
    by_doc: dict[str, list[tuple[Passage, float]]] = {}
    for pid, score in scores.items():
        passage = passages.get(pid)
        if passage is None or score <= 0:
            continue
        by_doc.setdefault(passage.doc_id, []).append((passage, score))
    for doc_id, (bonus, first) in (doc_bonus or {}).items():
        if bonus > 0 and doc_id not in by_doc and first in passages:
            by_doc[doc_id] = [(passages[first], 0.0)]
    out: list[DocScore] = []
    query_bigrams = frozenset(_bigrams(query_norm))
    fields = asked_fields(query_norm) if params.field_beta > 0 else frozenset()
    kinds = asked_kinds(query_norm) if params.answer_beta > 0 else ()
    for doc_id, items in by_doc.items():
        if fields:
            items = [(p, s * (1.0 + params.field_beta) if p.field in fields else s) for p, s in items]
        if kinds:
            beta = params.answer_beta
            items = [(p, s if p.field in FIELD_CUES else s * (1.0 + beta * _share(kinds, p.text)))
                     for p, s in items]
        items.sort(key=lambda item: -item[1])
        best = items[0][1]
        if doc_bonus and doc_id in doc_bonus:
            best += doc_bonus[doc_id][0]
        if params.title_beta > 0:
            best *= 1.0 + params.title_beta * _title_share(query_bigrams, items[0][0].title)
        out.append(DocScore(doc_id, best, items[: max(1, params.passages_per_hit)]))
    out.sort(key=lambda d: (-d.score, d.doc_id))
    return out


def _share(kinds: tuple[str, ...], text: str) -> float:
    found = answer_kinds(text)
    return sum(k in found for k in kinds) / len(kinds)


def query_terms(tokenizer: Tokenizer, query_norm: str) -> list[str]:
    """The words worth marking in a passage: jieba words of the query (longest first)."""
    words = {w for w in tokenizer.words(query_norm) if len(w) >= 2 or not w.isascii()}
    return sorted(words, key=len, reverse=True)


_CHAR_TABLE: dict[int, str] = {}


@functools.lru_cache(maxsize=8192)
def _aligned(text: str) -> str:
    """A normalised copy of ``text`` with exactly one character per original character (per-character
    conversion through a growing translate table: phrase conversions that change length would break
    the alignment)."""
    table = _CHAR_TABLE
    for ch in set(text):
        if ord(ch) not in table:
            conv = to_simplified(unicodedata.normalize("NFKC", ch)).lower()
            table[ord(ch)] = conv if len(conv) == 1 else ch
    return text.translate(table)


def highlight(text: str, terms: Iterable[str]) -> str:
    """``text`` with each occurrence of a query term wrapped in 【】.

    Matching is done on a per-character normalised copy (so a Simplified term marks Traditional text and
    full-width letters), and the marks are placed in the original text.
    """
    terms = [t for t in terms if t]
    if not text or not terms:
        return text
    flat = _aligned(text)
    spans: list[tuple[int, int]] = []
    for term in terms:
        start = flat.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = flat.find(term, start + len(term))
    if not spans:
        return text
    spans.sort()
    merged = [spans[0]]
    for begin, end in spans[1:]:
        if begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    out: list[str] = []
    pos = 0
    for begin, end in merged:
        out += [text[pos:begin], HIGHLIGHT_OPEN, text[begin:end], HIGHLIGHT_CLOSE]
        pos = end
    out.append(text[pos:])
    return "".join(out)
