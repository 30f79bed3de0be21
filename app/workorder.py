"""The work order drafted at a call's end, the outbox it leaves by, and the signed webhook that delivers it.

Drafting (:func:`draft`): ``kind`` (咨询 / 投诉求助 / 建言) and ``category`` from a :class:`Classifier`
(``app.hotline_classifier``: character n-grams and the encoder's sentence vector, trained on
``data/hotline/labelled.jsonl`` and the agents' corrections), ``department`` through the routing table in
the home (:class:`Routing`, ``<home>/hotline/routing.yml``: category → department, written on first use
with defaults taken from the archive's agencies), an extractive ``summary`` (the caller's key sentences),
the places and times mentioned, the documents the agent pinned, and the transcript masked by ``core.pii``
(``caller=True``: ID, phone, card numbers and the caller's name and house number).

Storage (:class:`Orders`, ``app.db``): one row per call in ``hotline_orders`` (draft → submitted) and, on
submit, in the same transaction, one row in ``hotline_outbox``.  The raw transcript is stored only when
``settings.hotline_raw_retention_days`` > 0, and removed once older than that.

Delivery (:class:`Webhook`): a background loop POSTs each due outbox row to ``settings.hotline_webhook_url``
with ``X-Civic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` and
``X-Civic-Delivery: <order id>``; a 2xx marks it delivered, anything else is retried with exponential
backoff.  A row is leased while it is being sent, so two app processes do not send it at once; rows outlive
a restart.  The outbox gives at-least-once delivery; a receiver that keeps the delivery ids it has seen
gets each order exactly once (a crash between the receiver's 2xx and our bookkeeping is the only duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from app.hotline_classifier import (  # noqa: F401  (re-exported: the order's labels and classifier)
    CATEGORIES,
    KINDS,
    Classification,
    Classifier,
    HotlineClassifier,
    held_out_accuracy,
    load_examples,
)
from connectors.hotline import Call
from core.appdb import AppDb
from core.errors import ConfigError, InvalidInput, NotFound
from core.pii import mask

log = logging.getLogger("civic.hotline")

MAX_FIELD_CHARS = 2000

# -- the classifier: app/hotline_classifier.py (n-grams + the encoder's vector); its names importable here
NgramClassifier = HotlineClassifier  # the first classifier's name (n-grams only when given no encoder)


# -- the routing table ---------------------------------------------------------------------------------------
# which agency name in the archive a category goes to first (the first hint an issuer contains wins)
AGENCY_HINTS: dict[str, tuple[str, ...]] = {
    "城建": ("住房和城乡建设", "城市管理", "自然资源"), "交通": ("交通运输", "交通警察", "交通"),
    "教育": ("教育",), "政务": ("政务服务",), "企业": ("市场监督", "商务"), "治安": ("公安局",),
    "环保": ("生态环境",), "就业": ("人力资源和社会保障",), "医疗": ("医疗保障", "卫生健康"),
    "三农": ("农业农村",), "文娱": ("文化", "广电"), "旅游": ("旅游", "文化和旅游"),
    "金融": ("金融", "公积金"),
}


def default_routing(issuers: Iterable[str]) -> dict[str, Any]:
    """A first routing table from the archive's agencies: each category to the agency its hints name, the
    rest (and anything unknown) to the government service office (or the agency issuing most documents)."""
    counts = Counter(i for i in issuers if i)
    names = [name for name, _ in counts.most_common()]
    fallback = next((n for n in names if "政务服务" in n), names[0] if names else "12345热线办公室")
    table: dict[str, str] = {}
    for category in CATEGORIES:
        for hint in AGENCY_HINTS.get(category, ()):
            found = next((n for n in names if hint in n), None)
            if found:
                table[category] = found
                break
        else:
            table[category] = fallback
    return {"default": fallback, "categories": table}


class Routing:
    """category → department, read from the YAML file on every lookup when it changed (admins edit it)."""

    def __init__(self, path: Path, issuers: Callable[[], Iterable[str]]) -> None:
        self.path = path
        self._issuers = issuers
        self._mtime = -1.0
        self._table: dict[str, Any] = {}

    def ensure(self) -> None:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            body = yaml.safe_dump(default_routing(self._issuers()), allow_unicode=True, sort_keys=False)
            self.path.write_text("# category -> department (docs/hotline.md); edit and save, no restart\n"
                                 + body, encoding="utf-8")

    def table(self) -> dict[str, Any]:
        self.ensure()
        mtime = self.path.stat().st_mtime
        if mtime != self._mtime:
            try:
                data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{self.path}: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.get("categories", {}), dict):
                raise ConfigError(f"{self.path}: expected 'default' and a 'categories' mapping")
            self._table, self._mtime = data, mtime
        return self._table

    def department(self, category: str) -> str:
        table = self.table()
        return str((table.get("categories") or {}).get(category) or table.get("default") or "")


# -- extraction ----------------------------------------------------------------------------------------------
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
_FILLER = re.compile(r"^(?:喂|你好|您好|嗯+|啊|哦|对|对的|是的|是|好的?|谢谢(?:你|您)?|再见|没有了|没了"
                     r"|那个|就是)[，,。！!？?\s]*")
_SIGNAL = ("希望", "能不能", "怎么", "投诉", "反映", "问题", "坏了", "没有", "要求", "建议", "需要", "什么",
           "多久", "多少", "影响", "一直", "不能", "不了", "处理", "办理")
PLACE = re.compile(r"[\u4e00-\u9fff0-9]{1,12}?(?:大道|路|街|巷|小区|花园|公寓|村|镇|乡|街道|社区|广场|公园"
                   r"|医院|小学|中学|大学|学校|幼儿园|市场|大厦|中心|地铁站|车站|区)")
_PLACE_CUT = re.compile(r".*[在到去住从是的了个那这我们家门口附近旁边对面边里就说和跟往条座所片处]")
_CN = "[0-9零一二三四五六七八九十两]"
TIME = re.compile(
    rf"(?:\d{{4}}年)?{_CN}{{1,3}}月{_CN}{{1,3}}[日号]|(?:今天|昨天|前天|明天|后天|今年|去年|上周|这周|本周"
    rf"|上个月|这个月|本月|下个月|每天|天天|周末)(?:[一二三四五六日天])?(?:早上|上午|中午|下午|晚上|凌晨|夜里)?"
    rf"(?:{_CN}{{1,3}}点(?:半|{_CN}{{1,2}}分)?)?"
    rf"|(?:早上|上午|中午|下午|晚上|凌晨|夜里){_CN}{{1,3}}点(?:半|{_CN}{{1,2}}分)?"
    rf"|{_CN}{{1,3}}(?:个)?(?:天|周|星期|月|年)(?:前|了|多)"
)


def _sentences(texts: Iterable[str]) -> list[str]:
    out = []
    for text in texts:
        for m in _SENTENCE.finditer(text):
            sentence = _FILLER.sub("", m.group().strip())
            if len(sentence) >= 4:
                out.append(sentence)
    return out


def summarize(caller_texts: list[str], max_sentences: int = 3) -> str:
    """The caller's key sentences, in the order spoken: each scored by how central its words are to the
    whole call (character bigrams shared with the rest) and whether it asks or reports something."""
    sentences = _sentences(caller_texts)
    if not sentences:
        return ""
    bigrams = Counter(b for s in sentences for b in {s[i:i + 2] for i in range(len(s) - 1)})

    def score(s: str) -> float:
        grams = {s[i:i + 2] for i in range(len(s) - 1)}
        central = sum(bigrams[g] - 1 for g in grams) / math.sqrt(len(s))
        return central + 2.0 * sum(word in s for word in _SIGNAL) + min(len(s), 40) / 40

    keep = sorted(sorted(range(len(sentences)), key=lambda i: -score(sentences[i]))[:max_sentences])
    return "；".join(sentences[i].rstrip("。！？!?；;，,") for i in keep) + "。"


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item and not any(item in other for other in seen):
            for other in [o for o in seen if o in item]:
                del seen[other]
            seen[item] = None
    return list(seen)


def places(text: str) -> list[str]:
    found = []
    for m in PLACE.finditer(text):
        place = _PLACE_CUT.sub("", m.group())
        if len(place) >= 3 and not place.isdigit():
            found.append(place)
    return _unique(found)


def times(text: str) -> list[str]:
    return _unique(m.group() for m in TIME.finditer(text))


# -- the order -----------------------------------------------------------------------------------------------
EDITABLE = ("kind", "category", "department", "summary", "places", "times", "documents")


@dataclass
class WorkOrder:
    order_id: str
    call_id: str
    kind: str
    category: str
    department: str
    summary: str
    places: list[str]
    times: list[str]
    documents: list[dict[str, str]]  # {doc_id, title}
    transcript: list[dict[str, Any]]  # {speaker, text (masked), start_ms}
    confidence: dict[str, float] = field(default_factory=dict)
    # the classifier's kind and category (the agent's edit of either is a labelled example)
    drafted: dict[str, str] = field(default_factory=dict)
    status: str = "draft"
    line: str = ""
    started_at: str = ""
    created_at: float = 0.0
    submitted_at: float | None = None
    submitted_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkOrder:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def draft(call: Call, classifier: Classifier, routing: Routing, documents: list[dict[str, str]],
          clock: Callable[[], float] = time.time) -> WorkOrder:
    """The order for a call that ended, everything masked; nothing is stored here."""
    caller = [s.text for s in call.finals("caller")]
    text = "。".join(caller)
    masked = mask(text, caller=True)
    found = classifier.classify(masked) if masked.strip() else Classification("咨询", 0.0, "其他", 0.0)
    return WorkOrder(
        order_id="WO-" + secrets.token_hex(8),
        call_id=call.call_id,
        kind=found.kind,
        category=found.category,
        department=routing.department(found.category),
        summary=mask(summarize(caller), caller=True),
        places=places(masked),
        times=times(masked),
        documents=documents,
        transcript=[{"speaker": s.speaker, "text": mask(s.text, caller=True), "start_ms": s.start_ms}
                    for s in call.finals()],
        confidence={"kind": found.kind_confidence, "category": found.category_confidence},
        drafted={"kind": found.kind, "category": found.category},
        line=call.line,
        started_at=call.started_at,
        created_at=clock(),
    )


def apply_edits(order: WorkOrder, edits: dict[str, Any], categories: Iterable[str] = CATEGORIES) -> WorkOrder:
    """The agent's edits, validated; free text is masked again (an agent may type a number)."""
    unknown = set(edits) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
    values = asdict(order)
    for name, value in edits.items():
        if name == "kind" and value not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        if name == "category" and value not in set(categories):
            raise InvalidInput(f"unknown category {value!r}")
        if name in ("kind", "category", "department", "summary"):
            if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
                raise InvalidInput(f"{name} must be a string of at most {MAX_FIELD_CHARS} characters")
            values[name] = mask(value.strip(), caller=True)
        elif name in ("places", "times"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{name} must be a list of strings")
            values[name] = [mask(v.strip(), caller=True) for v in value if v.strip()][:50]
        elif name == "documents":
            if not isinstance(value, list) or not all(isinstance(v, dict) and isinstance(v.get("doc_id"), str)
                                                      for v in value):
                raise InvalidInput('documents must be a list of {"doc_id", "title"}')
            values[name] = [{"doc_id": v["doc_id"], "title": str(v.get("title", ""))} for v in value][:20]
    return WorkOrder.from_json(values)


# -- storage -------------------------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS hotline_orders (
    call_id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, payload TEXT NOT NULL,
    raw_transcript TEXT, created_at REAL NOT NULL, submitted_at REAL
);
CREATE INDEX IF NOT EXISTS hotline_orders_submitted ON hotline_orders(submitted_at);
CREATE TABLE IF NOT EXISTS hotline_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0, delivered_at REAL, last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS hotline_outbox_due ON hotline_outbox(delivered_at, next_at);
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    order_id: str
    body: str
    attempts: int


def _draft(db: sqlite3.Connection, call_id: str) -> WorkOrder:
    """The call's work order, still a draft (inside the caller's transaction)."""
    row = db.execute("SELECT payload, status FROM hotline_orders WHERE call_id = ?", [call_id]).fetchone()
    if row is None:
        raise NotFound(f"no work order for call {call_id!r}; end the call first")
    if row["status"] != "draft":
        raise InvalidInput(f"the work order of call {call_id!r} was submitted already")
    return WorkOrder.from_json(json.loads(row["payload"]))


class Orders:
    """Work orders and their outbox in ``app.db``.  Every method blocks: use ``asyncio.to_thread``."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self._store = AppDb(path, _SCHEMA)
        self._clock = clock

    def close(self) -> None:
        self._store.close()

    def save_draft(self, order: WorkOrder, raw_transcript: list[dict[str, Any]] | None = None) -> WorkOrder:
        """Store the draft of a call; a call that has one already keeps it (a resent end)."""
        raw = json.dumps(raw_transcript, ensure_ascii=False) if raw_transcript is not None else None
        with self._store.tx() as db:
            row = db.execute("SELECT payload FROM hotline_orders WHERE call_id = ?",
                             [order.call_id]).fetchone()
            if row is not None:
                return WorkOrder.from_json(json.loads(row["payload"]))
            db.execute("INSERT INTO hotline_orders (call_id, order_id, status, payload, raw_transcript, "
                       "created_at) VALUES (?, ?, 'draft', ?, ?, ?)",
                       [order.call_id, order.order_id, json.dumps(order.to_json(), ensure_ascii=False), raw,
                        order.created_at])
        return order

    def get(self, call_id: str) -> WorkOrder:
        rows = self._store.rows("SELECT payload FROM hotline_orders WHERE call_id = ?", [call_id])
        if not rows:
            raise NotFound(f"no work order for call {call_id!r}")
        return WorkOrder.from_json(json.loads(rows[0]["payload"]))

    def raw_transcript(self, call_id: str) -> list[dict[str, Any]] | None:
        rows = self._store.rows("SELECT raw_transcript FROM hotline_orders WHERE call_id = ?", [call_id])
        return json.loads(rows[0]["raw_transcript"]) if rows and rows[0]["raw_transcript"] else None

    def submit(self, call_id: str, edits: dict[str, Any], actor: str,
               categories: Iterable[str] = CATEGORIES) -> tuple[WorkOrder, WorkOrder]:
        """The edited order submitted and queued for the webhook in one transaction; (before, after).  A
        submitted order cannot be submitted again."""
        with self._store.tx() as db:
            before = _draft(db, call_id)
            after = apply_edits(before, edits, categories)
            after.status, after.submitted_at, after.submitted_by = "submitted", self._clock(), actor
            payload = json.dumps(after.to_json(), ensure_ascii=False)
            db.execute("UPDATE hotline_orders SET status = 'submitted', payload = ?, submitted_at = ? "
                       "WHERE call_id = ?", [payload, after.submitted_at, call_id])
            db.execute("INSERT INTO hotline_outbox (order_id, body, created_at, next_at) VALUES (?, ?, ?, ?)",
                       [after.order_id, payload, after.submitted_at, after.submitted_at])
        return before, after

    def edit_draft(self, call_id: str, edits: dict[str, Any],
                   categories: Iterable[str] = CATEGORIES) -> tuple[WorkOrder, WorkOrder]:
        """The agent's edits saved on the draft (not submitted); (before, after)."""
        with self._store.tx() as db:
            before = _draft(db, call_id)
            after = apply_edits(before, edits, categories)
            db.execute("UPDATE hotline_orders SET payload = ? WHERE call_id = ?",
                       [json.dumps(after.to_json(), ensure_ascii=False), call_id])
        return before, after

    def submitted_since(self, since: float) -> list[WorkOrder]:
        rows = self._store.rows("SELECT payload FROM hotline_orders WHERE status = 'submitted' AND "
                                "submitted_at >= ? ORDER BY submitted_at, call_id", [since])
        return [WorkOrder.from_json(json.loads(r["payload"])) for r in rows]

    def purge_raw(self, older_than_days: int) -> int:
        """Drop raw transcripts older than the retention (0 days: every one)."""
        cutoff = self._clock() - older_than_days * 86400
        with self._store.tx() as db:
            cur = db.execute("UPDATE hotline_orders SET raw_transcript = NULL "
                             "WHERE raw_transcript IS NOT NULL AND created_at < ?", [cutoff])
        return cur.rowcount

    # the outbox
    def claim_due(self, limit: int = 20, lease: float = 60.0) -> list[OutboxRow]:
        now = self._clock()
        with self._store.tx() as db:
            rows = db.execute("SELECT id, order_id, body, attempts FROM hotline_outbox "
                              "WHERE delivered_at IS NULL AND next_at <= ? AND lease_until <= ? "
                              "ORDER BY next_at LIMIT ?",
                              [now, now, limit]).fetchall()
            for r in rows:
                db.execute("UPDATE hotline_outbox SET lease_until = ? WHERE id = ?", [now + lease, r["id"]])
        return [OutboxRow(r["id"], r["order_id"], r["body"], r["attempts"]) for r in rows]

    def delivered(self, row_id: int) -> None:
        with self._store.tx() as db:
            db.execute("UPDATE hotline_outbox SET delivered_at = ?, attempts = attempts + 1, "
                       "lease_until = 0, last_error = '' WHERE id = ?", [self._clock(), row_id])

    def failed(self, row_id: int, error: str, delay: float) -> None:
        with self._store.tx() as db:
            db.execute("UPDATE hotline_outbox SET attempts = attempts + 1, next_at = ?, lease_until = 0, "
                       "last_error = ? WHERE id = ?", [self._clock() + delay, error[:300], row_id])

    def outbox(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._store.rows(
            "SELECT id, order_id, attempts, next_at, delivered_at, last_error FROM hotline_outbox "
            "ORDER BY id")]


# -- the webhook ---------------------------------------------------------------------------------------------
def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: float = 300.0,
                     now: float | None = None) -> bool:
    """What a receiver checks (docs/hotline.md): the HMAC over ``"<t>.<body>"``, and ``t`` recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


class Webhook:
    """Delivers the outbox: every ``poll`` seconds, each due row POSTed; failures back off exponentially
    (``base`` × 2^attempts, at most ``cap`` seconds, with up to 10 % jitter)."""

    def __init__(self, orders: Orders, url: str, secret: str, *, poll: float = 1.0, base: float = 2.0,
                 cap: float = 3600.0, timeout: float = 10.0) -> None:
        self.orders, self.url, self.secret = orders, url, secret
        self.poll, self.base, self.cap, self.timeout = poll, base, cap, timeout
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()

    def delay(self, attempts: int) -> float:
        return min(self.cap, self.base * 2 ** attempts) * (1 + secrets.randbelow(100) / 1000)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        """A row was queued: send it now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:
                log.exception("hotline webhook: delivery round failed; retrying")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Send every due row once; the number delivered."""
        rows = await asyncio.to_thread(self.orders.claim_due)
        sent = 0
        for row in rows:
            error = await self._send(row)
            if error is None:
                await asyncio.to_thread(self.orders.delivered, row.id)
                sent += 1
            else:
                delay = self.delay(row.attempts)
                log.warning("hotline webhook: order %s not delivered (%s); next try in %.0f s", row.order_id,
                            error, delay)
                await asyncio.to_thread(self.orders.failed, row.id, error, delay)
        return sent

    async def _send(self, row: OutboxRow) -> str | None:
        if not self.secret:
            return "no hotline_webhook_secret set: orders are not sent unsigned"
        assert self._session is not None
        body = row.body.encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Civic-Delivery": row.order_id,
                   "X-Civic-Signature": signature(self.secret, int(time.time()), body)}
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError) as exc:
            return f"{type(exc).__name__}: {exc}"
