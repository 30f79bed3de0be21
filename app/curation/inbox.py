"""The curation inbox: what the bot failed on, grouped by meaning.

Sources, all in ``app.db`` and all masked when stored:

* the curation log (``app/conversations.py``): fallbacks (the NLU was unsure; answered from search or not),
  hand-overs, negative feedback;
* the chat history (``connectors/history.py``): turns whose intent the NLU chose with low confidence
  (below ``LOW_CONFIDENCE`` but above the fallback threshold, so they were answered — maybe wrongly); the
  history also gives the bot's answer to a logged message.

Grouping: each message becomes a unit vector — the retriever's sentence encoder (USE multilingual) when it is
loaded and can read the text, else character 1–3-gram counts — and a message joins the most similar group
when the cosine to the group's first message reaches the threshold of that representation, else opens a new
group.  Messages already curated or dismissed (``CurationStore.handled``) stay out.  Texts are masked again
(``core.pii.mask``) before they are shown.

Everything here blocks (SQLite, the encoder): call it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.curation.store import text_key
from core.inputs import is_payload
from core.pii import mask

LOW_CONFIDENCE = 0.6  # an answered intent below this goes to the inbox (the fallback threshold is 0.4)
KINDS = ("fallback", "low_confidence", "feedback_bad", "handover")
ENCODER_THRESHOLD = 0.55  # USE multilingual: paraphrases ~0.56-0.9, unrelated questions ~0.1-0.45 (measured)
NGRAM_THRESHOLD = 0.45  # character 1-3-gram cosine
MAX_UNREADABLE = 0.3  # an encoder that cannot read more than this share of a text is not used for it
MAX_EXAMPLES = 5
SCAN_LIMIT = 5000  # log rows / history turns read per source
MAX_CACHED = 50_000  # sentence vectors kept between inbox views (a page load encodes only new messages)
# per encoder object: text -> unit vector
_VECTORS: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


class Encoder(Protocol):
    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...

    def unknown_share(self, text: str) -> float: ...


@dataclass
class Item:
    """One message the bot failed on."""

    text: str
    kind: str
    session: str
    at: float
    answer: str = ""
    intent: str = ""
    confidence: float | None = None


@dataclass
class Group:
    id: str  # the text_key of its first message: stable while that message is in the inbox
    count: int
    kinds: dict[str, int]
    examples: list[str]  # masked, up to MAX_EXAMPLES distinct messages, most frequent first
    texts: list[str]  # every distinct message (masked): what an action on the group curates
    answer: str  # the bot's most frequent answer to them (masked)
    intents: dict[str, int] = field(default_factory=dict)  # what the NLU made of them
    last_at: float = 0.0
    method: str = "ngram"  # encoder | ngram

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- collecting -----------------------------------------------------------------------------------------
def _answer_text(reply: dict[str, Any] | None) -> str:
    messages = (reply or {}).get("messages") or []
    return " ".join(str(m.get("text") or "") for m in messages if isinstance(m, dict)).strip()[:300]


def collect(app_db: Path, limit: int = SCAN_LIMIT) -> list[Item]:
    """Every failed message in ``app_db`` (newest first per source).  Reads the curation log and the chat
    history tables read-only, in one connection."""
    if not Path(app_db).exists():
        return []
    db = sqlite3.connect(f"file:{app_db}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        turns: dict[tuple[str, str], dict[str, Any]] = {}  # (session, text) -> the latest turn's reply
        previous: dict[tuple[str, str], str] = {}  # (session, text) -> the citizen's message before it
        items: list[Item] = []
        if "history_turns" in tables:
            rows = db.execute("SELECT session, text, reply FROM history_turns ORDER BY seq DESC LIMIT ?",
                              [limit]).fetchall()
            last_text: dict[str, str] = {}
            for row in reversed(rows):  # oldest first
                reply = json.loads(row["reply"]) if row["reply"] else None
                key = (row["session"], row["text"])
                turns[key] = reply or {}
                if row["session"] in last_text:
                    previous[key] = last_text[row["session"]]
                last_text[row["session"]] = row["text"]
                intent = (reply or {}).get("intent") or {}
                confidence = intent.get("confidence")
                name = intent.get("name") or ""
                if (reply and (reply.get("mode") or "dialogue") == "dialogue" and name
                        and name != "nlu_fallback" and confidence is not None
                        and float(confidence) < LOW_CONFIDENCE and not is_payload(row["text"])):
                    items.append(Item(row["text"], "low_confidence", row["session"], 0.0,
                                      _answer_text(reply), name, float(confidence)))
        if "curation_log" in tables:
            rows = db.execute(
                "SELECT kind, session, text, detail, at FROM curation_log WHERE kind IN"
                " ('fallback', 'handover', 'feedback_bad') ORDER BY id DESC LIMIT ?", [limit]).fetchall()
            for row in rows:
                detail = json.loads(row["detail"] or "{}")
                text = str(row["text"] or "")
                answer = str(detail.get("answer") or "")
                if row["kind"] == "feedback_bad" and "key" not in detail:
                    # the thumbs-down turn itself (「没有帮助」): the question is the message before it
                    text = previous.get((row["session"], text), "")
                reply = turns.get((row["session"], text))
                answer = answer or _answer_text(reply)
                intent = ((reply or {}).get("intent") or {}).get("name") or ""
                if text and not is_payload(text):
                    items.append(Item(text, row["kind"], row["session"], float(row["at"]), answer, intent))
        return items
    finally:
        db.close()


# -- grouping -------------------------------------------------------------------------------------------
def _ngrams(text: str) -> Counter[str]:
    norm = "".join(text.lower().split())
    grams: Counter[str] = Counter()
    for n in (1, 2, 3):
        grams.update(norm[i:i + n] for i in range(max(0, len(norm) - n + 1)))
    return grams


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())))


def _similarities(texts: list[str], encoder: Encoder | None) -> tuple[np.ndarray, str]:
    """The pairwise cosine matrix of ``texts`` and which representation made it."""
    if encoder is not None and texts and all(encoder.unknown_share(t) <= MAX_UNREADABLE for t in texts):
        try:
            cache = _VECTORS.setdefault(encoder, {})
        except TypeError:  # an encoder that cannot be weakly referenced: no cache
            cache = {}
        new = [t for t in dict.fromkeys(texts) if t not in cache]
        if new:
            if len(cache) + len(new) > MAX_CACHED:
                cache.clear()
            fresh = np.asarray(encoder.encode(new), dtype=np.float32)
            fresh = fresh / np.maximum(np.linalg.norm(fresh, axis=1, keepdims=True), 1e-9)
            cache.update(zip(new, fresh, strict=True))
        vectors = np.stack([cache[t] for t in texts])
        return vectors @ vectors.T, "encoder"
    grams = [_ngrams(t) for t in texts]
    sims = np.zeros((len(texts), len(texts)), dtype=np.float32)
    for i in range(len(texts)):
        for j in range(i, len(texts)):
            sims[i, j] = sims[j, i] = 1.0 if i == j else _cosine(grams[i], grams[j])
    return sims, "ngram"


def group(items: Iterable[Item], encoder: Encoder | None = None, handled: Iterable[str] = ()) -> list[Group]:
    """Group ``items`` by meaning, most frequent group first; items whose text was handled are left out."""
    skip = set(handled)
    by_text: dict[str, list[Item]] = {}
    for item in items:
        text = " ".join(mask(item.text).split())
        if text and text_key(text) not in skip:
            by_text.setdefault(text, []).append(item)
    # the most frequent distinct messages lead their groups
    texts = sorted(by_text, key=lambda t: (-len(by_text[t]), t))
    sims, method = _similarities(texts, encoder)
    threshold = ENCODER_THRESHOLD if method == "encoder" else NGRAM_THRESHOLD
    leaders: list[int] = []
    members: dict[int, list[int]] = {}
    for i in range(len(texts)):
        best = max(leaders, key=lambda j: sims[i, j], default=None)
        if best is not None and sims[i, best] >= threshold:
            members[best].append(i)
        else:
            leaders.append(i)
            members[i] = [i]
    groups: list[Group] = []
    for leader in leaders:
        ordered = [texts[i] for i in members[leader]]
        all_items = [it for t in ordered for it in by_text[t]]
        answers = Counter(mask(it.answer) for it in all_items if it.answer)
        groups.append(Group(
            id=text_key(texts[leader]),
            count=len(all_items),
            kinds=dict(Counter(it.kind for it in all_items)),
            examples=ordered[:MAX_EXAMPLES],
            texts=ordered,
            answer=answers.most_common(1)[0][0] if answers else "",
            intents=dict(Counter(it.intent for it in all_items if it.intent)),
            last_at=max(it.at for it in all_items),
            method=method,
        ))
    groups.sort(key=lambda g: (-g.count, -g.last_at, g.id))
    return groups


def build_inbox(app_db: Path, handled: Iterable[str], encoder: Encoder | None = None,
                kinds: Iterable[str] = KINDS) -> list[Group]:
    """The inbox as the page and ``civic curation inbox`` show it."""
    wanted = set(kinds)
    return group([it for it in collect(app_db) if it.kind in wanted], encoder, handled)


def find_group(groups: list[Group], group_id: str) -> Group | None:
    return next((g for g in groups if g.id == group_id), None)


def encoder_of(retriever: Any) -> Encoder | None:
    """The retriever's loaded sentence encoder, if it has one (``app[RETRIEVER].embedder``)."""
    embedder = getattr(retriever, "embedder", None)
    return embedder if embedder is not None and hasattr(embedder, "unknown_share") else None
