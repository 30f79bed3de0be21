"""How well the assistant serves, read from ``app.db``: by day, by week and by channel (``/admin/analytics``,
``app/admin/analytics.py``; the definitions are in docs/admin.md, "Analytics").

What is counted, and where it comes from:

- a **message** is a citizen message a channel recorded in the chat history (``connectors/history.py``,
  ``history_turns``: web, Telegram, WeChat, and ``POST /api/chat`` as channel ``api``); its reply holds the
  turn's intent and the documents the answer cited;
- a **conversation** is the messages of one session with no pause longer than :data:`CONVERSATION_GAP`
  (the engine's ``session_expiration_time``, domain/core.yml), counted on the day of its first message;
- a **hand-over** is a hand-over ticket (``app/conversations.py``, ``tickets``); the conversation it happened
  in is *handed over*, every other conversation is *contained*;
- a **fallback** is a ``fallback`` row of the curation log: the dialogue did not understand the message
  (answered from search or not), a guide or policy was not found, or — while the engine was not ready — the
  search found nothing (a standby search that found an answer is not a fallback);  a fallback with no answer
  is **unanswered**;  the fallback rate is over the messages the bot answered (not those sent to staff
  while a person had the conversation);
- **satisfaction** is the 👍 share of the rated answers: the thumbs on a turn (its latest value) and the
  feedback a citizen typed (the engine's ``feedback_good``/``feedback_bad``).

Days and weeks (ISO, Monday first) are local days in ``settings.time_zone``.  Every text this module returns
went through ``core.pii.mask`` (the stores mask what they keep; masking again here costs little and keeps the
rule in one place).  The queries block: callers on the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
import sqlite3
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from app.curation import inbox
from core.dates import zone
from core.errors import ConfigError, InvalidInput
from core.inputs import is_payload
from core.pii import mask

CHANNELS = ("web", "telegram", "wechat", "api")  # the filter's choices; other channels are counted as seen
CONVERSATION_GAP = 60 * 60.0  # seconds; domain/core.yml session_expiration_time (60 min)
DEFAULT_DAYS = 30  # the range when the filter gives none: the last 30 days up to today
MAX_DAYS = 731  # the longest range one report covers
TOP = 20  # rows of a top list on the page; the CSV has every row
MAX_EXAMPLES = 3  # example messages per unanswered group
MAX_GROUPED = 200  # the most frequent wordings are grouped by meaning (the curation inbox's grouping, O(n²));
# the rarer ones are listed by their wording

# a curation-log feedback row with a "key" is a thumbs on a turn (app/factory.py log_feedback_for_curation),
# already counted from the history; one without is feedback typed in the conversation (bot/handover.py)
_FEEDBACK_KINDS = {"feedback_good": "up", "feedback_bad": "down"}
GROUPED_BY = {"encoder": "语义 meaning", "ngram": "字词 characters", "wording": "原文 wording"}
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def channel_of(channel: str, session: str) -> str:
    """The channel of a turn (its recorded channel) or of a session alone (``"<channel>:<user>"``, the
    connectors' session ids; anything else came through ``/api/chat``)."""
    if channel:
        return channel
    prefix, sep, _ = session.partition(":")
    return prefix if sep and prefix in CHANNELS else "api"


def group_key(text: str) -> str:
    """Messages that differ only in case, width, spaces and punctuation fall in one unanswered group."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).casefold())


# -- the filter --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel: str = ""  # "" = every channel

    @classmethod
    def parse(cls, query: Mapping[str, str], today: date) -> Filters:
        """From the page's GET form (``from``, ``to``: YYYY-MM-DD, ``channel``); InvalidInput names the
        field."""
        end = _date(query.get("to", ""), "to") or today
        start = _date(query.get("from", ""), "from") or end - timedelta(days=DEFAULT_DAYS - 1)
        channel = (query.get("channel") or "").strip()
        if channel and channel not in CHANNELS:
            raise InvalidInput(f"'channel' must be one of {', '.join(CHANNELS)} (or empty for all)")
        if start > end:
            raise InvalidInput("'from' is after 'to'")
        if (end - start).days + 1 > MAX_DAYS:
            raise InvalidInput(f"the range is longer than {MAX_DAYS} days; pick a shorter one")
        return cls(start, end, channel)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def query(self) -> dict[str, str]:
        """The filter as the page's query string values (links to the CSV keep it)."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "channel": self.channel}


def _date(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"'{name}' must be a date like 2026-12-01, not {value[:20]!r}") from exc


# -- the numbers --------------------------------------------------------------------------------
@dataclass
class Counts:
    conversations: int = 0
    handed_over: int = 0  # conversations with a hand-over
    handovers: int = 0  # hand-over tickets
    messages: int = 0
    bot_messages: int = 0  # messages the bot answered (not those sent to staff during a hand-over)
    fallbacks: int = 0
    unanswered: int = 0
    up: int = 0
    down: int = 0

    @property
    def contained(self) -> int:
        return self.conversations - self.handed_over

    @property
    def containment(self) -> float | None:
        return _share(self.contained, self.conversations)

    @property
    def handover_rate(self) -> float | None:
        return _share(self.handed_over, self.conversations)

    @property
    def fallback_rate(self) -> float | None:
        return _share(self.fallbacks, self.bot_messages)

    @property
    def rated(self) -> int:
        return self.up + self.down

    @property
    def satisfaction(self) -> float | None:
        return _share(self.up, self.rated)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class IntentRow:
    name: str
    messages: int
    share: float | None
    confidence: float | None  # mean


@dataclass(frozen=True)
class DocRow:
    """A document: ``hits`` answers cited it (or, for a service, answered with its guide); the thumbs on
    those answers."""

    id: str
    title: str
    hits: int
    up: int
    down: int

    @property
    def satisfaction(self) -> float | None:
        return _share(self.up, self.up + self.down)


@dataclass(frozen=True)
class GroupRow:
    text: str  # the most frequent (masked) wording
    count: int
    examples: tuple[str, ...]
    channels: tuple[str, ...]
    last: datetime  # local time
    method: str = "wording"  # how it was grouped: encoder (by meaning) | ngram | wording (one wording alone)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "int"  # int | percent | number | text | doc (a document id: the page links it)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]


_COUNT_COLUMNS = (
    Column("conversations", "会话 Conversations"),
    Column("messages", "消息 Messages"),
    Column("contained", "未转人工 Contained"),
    Column("containment", "自助解决率 Containment", "percent"),
    Column("handovers", "转人工 Hand-overs"),
    Column("handover_rate", "转人工率 Hand-over rate", "percent"),
    Column("fallbacks", "未理解 Fallbacks"),
    Column("fallback_rate", "未理解率 Fallback rate", "percent"),
    Column("unanswered", "未答复 Unanswered"),
    Column("up", "有帮助 👍 Helpful"),
    Column("down", "没帮助 👎 Not helpful"),
    Column("satisfaction", "满意度 Satisfaction", "percent"),
)


def _count_cells(c: Counts) -> tuple[Any, ...]:
    return (c.conversations, c.messages, c.contained, c.containment, c.handovers, c.handover_rate,
            c.fallbacks, c.fallback_rate, c.unanswered, c.up, c.down, c.satisfaction)


@dataclass
class Report:
    filters: Filters
    time_zone: str
    total: Counts
    days: list[tuple[date, Counts]]
    weeks: list[tuple[date, Counts]]  # (Monday, counts); a week cut by the range holds only its days in it
    channels: list[tuple[str, Counts]]
    intents: list[IntentRow]
    services: list[DocRow]
    unanswered: list[GroupRow]
    documents: list[DocRow]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def tables(self) -> dict[str, Table]:
        """Every table of the page, by name: what the page shows and what ``?table=<name>`` exports."""
        doc_columns = (Column("id", "编号 ID", "doc"), Column("title", "标题 Title", "text"))
        thumbs = (Column("up", "有帮助 👍 Helpful"), Column("down", "没帮助 👎 Not helpful"),
                  Column("satisfaction", "满意度 Satisfaction", "percent"))
        return {t.name: t for t in (
            Table("summary", "总览 Summary", (Column("range", "范围 Range", "text"), *_COUNT_COLUMNS),
                  [(f"{self.filters.start}/{self.filters.end}", *_count_cells(self.total))]),
            Table("daily", "按日 By day", (Column("day", "日期 Day", "text"), *_COUNT_COLUMNS),
                  [(d.isoformat(), *_count_cells(c)) for d, c in self.days]),
            Table("weekly", "按周 By week", (Column("week", "周 Week", "text"),
                                            Column("starts", "起始 Starts", "text"), *_COUNT_COLUMNS),
                  [(_iso_week(d), d.isoformat(), *_count_cells(c)) for d, c in self.weeks]),
            Table("channels", "按渠道 By channel",
                  (Column("channel", "渠道 Channel", "text"), *_COUNT_COLUMNS),
                  [(name, *_count_cells(c)) for name, c in self.channels]),
            Table("intents", "热门意图 Top intents",
                  (Column("intent", "意图 Intent", "text"), Column("messages", "消息 Messages"),
                   Column("share", "占比 Share", "percent"),
                   Column("confidence", "平均置信度 Mean confidence", "number")),
                  [(r.name, r.messages, r.share, r.confidence) for r in self.intents]),
            Table("services", "热门事项 Top services asked about",
                  (*doc_columns, Column("asked", "询问 Asked"), *thumbs),
                  [(r.id, r.title, r.hits, r.up, r.down, r.satisfaction) for r in self.services]),
            Table("unanswered", "未答复的问题 Top unanswered",
                  (Column("text", "问题 Message", "text"), Column("count", "次数 Count"),
                   Column("examples", "示例 Examples", "text"), Column("channels", "渠道 Channels", "text"),
                   Column("last", "最近 Last seen", "text"), Column("method", "归组 Grouped by", "text")),
                  [(g.text, g.count, " | ".join(g.examples), ", ".join(g.channels),
                    g.last.strftime("%Y-%m-%d %H:%M"), GROUPED_BY.get(g.method, g.method))
                   for g in self.unanswered]),
            Table("documents", "文件命中与评价 Hits and feedback per document",
                  (*doc_columns, Column("hits", "命中 Hits"), *thumbs),
                  [(r.id, r.title, r.hits, r.up, r.down, r.satisfaction) for r in self.documents]),
        )}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def cell_text(value: Any, kind: str) -> str:
    """A cell as the CSV holds it: a percent as a number of percent (66.7), nothing for no value, and text
    that a spreadsheet would take for a formula quoted with an apostrophe."""
    if value is None:
        return ""
    if kind == "percent":
        return f"{value * 100:.1f}"
    if kind == "number":
        return f"{value:.3f}"
    text = str(value)
    return "'" + text if kind in ("text", "doc") and text.startswith(_FORMULA_START) else text


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads Chinese), CRLF rows, a header of the column labels."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.label + (" (%)" if c.kind == "percent" else "") for c in table.columns])
    for row in table.rows:
        writer.writerow([cell_text(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


# -- the queries --------------------------------------------------------------------------------
Adder = Callable[[float, str, Callable[[Counts], None]], None]  # (when, channel, what to count)


@dataclass
class _Conversation:
    session: str
    channel: str
    start: float
    last: float
    handed_over: bool = False


class Analytics:
    """Reads ``app.db`` (read-only, one connection per report) for :meth:`report`."""

    def __init__(self, app_db: Path, time_zone: str = "UTC", gap: float = CONVERSATION_GAP) -> None:
        self.path = Path(app_db)
        self.zone = zone(time_zone)
        self.time_zone = time_zone
        self.gap = gap

    def today(self) -> date:
        return datetime.now(self.zone).date()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise ConfigError(f"no app.db at {self.path}: the app has not run in this home yet")
        db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=5000")
        try:
            yield db
        finally:
            db.close()

    def report(self, filters: Filters, encoder: inbox.Encoder | None = None) -> Report:
        """The numbers for ``filters``; ``encoder`` (the retriever's sentence encoder) lets the unanswered
        messages group by meaning, else they group by character n-grams (app/curation/inbox.py).

        A report is kept for as long as ``app.db`` holds the same rows (:func:`_data_version`), so the
        CSV exports after a page view, or the same filter again, are not computed twice."""
        with self._connect() as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            key = (str(self.path), self.time_zone, self.gap, filters, encoder is not None,
                   _data_version(db, tables))
            with _CACHE_LOCK:
                cached = _CACHE.get(key)
            if cached is not None:
                return cached
            report = self._report(db, tables, filters, encoder)
        with _CACHE_LOCK:
            _CACHE[key] = report
            while len(_CACHE) > CACHED_REPORTS:
                _CACHE.pop(next(iter(_CACHE)))
        return report

    def _report(self, db: sqlite3.Connection, tables: set[str], filters: Filters,
                encoder: inbox.Encoder | None) -> Report:
        bounds = [_utc(datetime.combine(d, time(), self.zone)) for d in filters.days()]
        bounds.append(_utc(datetime.combine(filters.end + timedelta(days=1), time(), self.zone)))
        epochs = [b.timestamp() for b in bounds]
        span = (bounds[0].isoformat(timespec="seconds"), bounds[-1].isoformat(timespec="seconds"))
        has_turns = "history_turns" in tables
        has_log = {"tickets", "curation_log"} <= tables
        days = filters.days()
        per_day: dict[date, Counts] = {d: Counts() for d in days}
        per_channel: dict[str, Counts] = defaultdict(Counts)

        def day_of(epoch: float) -> date | None:
            i = bisect.bisect_right(epochs, epoch) - 1
            return days[i] if 0 <= i < len(days) else None

        def add(epoch: float, channel: str, bump: Callable[[Counts], None]) -> None:
            day = day_of(epoch)
            if day is None or (filters.channel and channel != filters.channel):
                return
            bump(per_day[day])
            bump(per_channel[channel])

        conversations: dict[str, list[_Conversation]] = {}
        tally = _Tally()
        if has_turns:
            conversations, tally = self._turns(db, span, filters.channel, add)
        if has_log:
            self._handovers(db, epochs, conversations, add)
            unanswered = self._fallbacks(db, epochs, filters, add, encoder)
            self._typed_feedback(db, epochs, add)
        else:
            unanswered = []
        for convs in conversations.values():
            for conv in convs:
                add(conv.start, conv.channel, _conversation_bump(conv.handed_over))
        total = Counts()
        for counts in per_day.values():
            _merge(total, counts)
        weeks: dict[date, Counts] = {}
        for day, counts in per_day.items():
            _merge(weeks.setdefault(day - timedelta(days=day.weekday()), Counts()), counts)
        seen = sorted(per_channel, key=lambda c: (CHANNELS.index(c) if c in CHANNELS else len(CHANNELS), c))
        shown = [filters.channel] if filters.channel else list(dict.fromkeys([*CHANNELS, *seen]))
        return Report(
            filters=filters, time_zone=self.time_zone, total=total, days=list(per_day.items()),
            weeks=sorted(weeks.items()), channels=[(c, per_channel.get(c, Counts())) for c in shown],
            intents=tally.intent_rows(), services=tally.services.rows(), unanswered=unanswered,
            documents=tally.documents.rows(),
        )

    def _turns(self, db: sqlite3.Connection, span: tuple[str, str], channel_filter: str, add: Adder
               ) -> tuple[dict[str, list[_Conversation]], _Tally]:
        """One pass over the messages in the range (each reply parsed once): they are counted as they go,
        make the conversations (by session) and feed the intents and the documents and services cited."""
        cursor = db.execute(
            "SELECT seq, session, channel, created_at, feedback, reply FROM history_turns"
            " WHERE created_at >= ? AND created_at < ? ORDER BY session, seq", span)
        cursor.row_factory = None  # plain tuples: this loop is the report's hot path
        by_session: dict[str, list[_Conversation]] = {}
        tally = _Tally()
        for seq, session, recorded, created_at, feedback, raw in cursor:
            channel = channel_of(recorded, session)
            if channel_filter and channel != channel_filter:
                continue
            at = _epoch(created_at)
            convs = by_session.setdefault(session, [])
            if not convs or at - convs[-1].last > self.gap:
                convs.append(_Conversation(session, channel, at, at))
            else:
                convs[-1].last = max(convs[-1].last, at)
            reply = _json(raw)
            add(at, channel, _MESSAGE_BUMPS[(reply.get("mode") != "paused", feedback)])
            tally.add(seq, reply, feedback)
        return by_session, tally

    def _handovers(self, db: sqlite3.Connection, epochs: list[float],
                   conversations: dict[str, list[_Conversation]],
                   add: Adder) -> None:
        rows = db.execute("SELECT session, created_at FROM tickets WHERE kind = 'handover'"
                          " AND created_at >= ? AND created_at < ?", [epochs[0], epochs[-1]])
        for row in rows:
            at, session = float(row["created_at"]), row["session"]
            convs = conversations.get(session, [])
            conv = next((c for c in reversed(convs) if c.start <= at + 1.0 and at <= c.last + self.gap), None)
            if conv is not None:
                conv.handed_over = True
            channel = conv.channel if conv is not None else channel_of("", session)
            add(at, channel, _bump_handover)

    def _fallbacks(self, db: sqlite3.Connection, epochs: list[float], filters: Filters, add: Adder,
                   encoder: inbox.Encoder | None) -> list[GroupRow]:
        rows = db.execute("SELECT session, text, detail, at FROM curation_log WHERE kind = 'fallback'"
                          " AND at >= ? AND at < ? ORDER BY id", [epochs[0], epochs[-1]])
        wordings: dict[str, list[tuple[str, str, float, str]]] = defaultdict(list)
        for row in rows:
            detail = _json(row["detail"])
            answered = bool(detail.get("answered"))
            if detail.get("standby") and answered:
                continue  # the engine was not ready and the search answered: not a fallback
            channel = channel_of("", row["session"])
            at = float(row["at"])
            add(at, channel, _fallback_bump(answered))
            text = " ".join(mask(row["text"] or "").split())
            if not answered and text and not is_payload(text) and not (filters.channel
                                                                       and channel != filters.channel):
                wordings[group_key(text) or text].append((text, channel, at, row["session"]))
        ranked = sorted(wordings.values(), key=lambda items: (-len(items), -max(i[2] for i in items)))
        head, tail = ranked[:MAX_GROUPED], ranked[MAX_GROUPED:]
        channels_of: dict[str, set[str]] = defaultdict(set)
        for text, channel, _, _ in (i for items in head for i in items):
            channels_of[text].add(channel)
        grouped = inbox.group([inbox.Item(text, "fallback", session, at)
                               for items in head for text, _, at, session in items], encoder)
        result = [GroupRow(text=g.examples[0], count=g.count, examples=tuple(g.examples[:MAX_EXAMPLES]),
                           channels=tuple(sorted(set().union(*(channels_of[t] for t in g.texts)))),
                           last=datetime.fromtimestamp(g.last_at, self.zone), method=g.method)
                  for g in grouped]
        for items in tail:
            texts = Counter(text for text, _, _, _ in items)
            result.append(GroupRow(
                text=texts.most_common(1)[0][0], count=len(items),
                examples=tuple(w for w, _ in texts.most_common(MAX_EXAMPLES)),
                channels=tuple(sorted({c for _, c, _, _ in items})),
                last=datetime.fromtimestamp(max(at for _, _, at, _ in items), self.zone), method="wording"))
        result.sort(key=lambda g: (-g.count, -g.last.timestamp(), g.text))
        return result

    def _typed_feedback(self, db: sqlite3.Connection, epochs: list[float],
                        add: Adder) -> None:
        rows = db.execute("SELECT kind, session, detail, at FROM curation_log"
                          " WHERE kind IN ('feedback_good', 'feedback_bad') AND at >= ? AND at < ?",
                          [epochs[0], epochs[-1]])
        for row in rows:
            if "key" in _json(row["detail"]):
                continue  # a thumbs on a turn: counted from the history
            add(float(row["at"]), channel_of("", row["session"]), _rating_bump(_FEEDBACK_KINDS[row["kind"]]))

@dataclass
class _Docs:
    """Per document: the answers that cited it (or carried its guide card) and the thumbs on them."""

    hits: Counter[str] = field(default_factory=Counter)
    up: Counter[str] = field(default_factory=Counter)
    down: Counter[str] = field(default_factory=Counter)
    titles: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (seq, title) of the latest

    def add(self, seq: int, found: dict[str, str], feedback: str | None) -> None:
        for doc_id, title in found.items():
            self.hits[doc_id] += 1
            self.up[doc_id] += feedback == "up"
            self.down[doc_id] += feedback == "down"
            if seq >= self.titles.get(doc_id, (-1, ""))[0]:
                self.titles[doc_id] = (seq, title)

    def rows(self) -> list[DocRow]:
        result = [DocRow(d, mask(self.titles[d][1]), n, self.up[d], self.down[d])
                  for d, n in self.hits.items()]
        result.sort(key=lambda r: (-r.hits, r.id))
        return result


@dataclass
class _Tally:
    intents: Counter[str] = field(default_factory=Counter)
    confidence: dict[str, float] = field(default_factory=dict)  # sums
    documents: _Docs = field(default_factory=_Docs)
    services: _Docs = field(default_factory=_Docs)

    def add(self, seq: int, reply: dict[str, Any], feedback: str | None) -> None:
        intent = reply.get("intent")
        if isinstance(intent, dict) and intent.get("name"):
            name = str(intent["name"])
            self.intents[name] += 1
            self.confidence[name] = self.confidence.get(name, 0.0) + float(intent.get("confidence") or 0.0)
        cited: dict[str, str] = {}
        guides: dict[str, str] = {}
        messages = reply.get("messages")
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict):
                continue
            for c in message.get("citations") or []:
                if isinstance(c, dict) and c.get("id"):
                    cited[str(c["id"])] = str(c.get("title") or "")
            card = message.get("card")
            guide = card.get("guide_id") or card.get("id") if isinstance(card, dict) else None
            if isinstance(card, dict) and card.get("type") == "guide" and guide:
                guides[str(guide)] = str(card.get("title") or "")
        self.documents.add(seq, cited, feedback)
        self.services.add(seq, guides, feedback)

    def intent_rows(self) -> list[IntentRow]:
        total = sum(self.intents.values())
        result = [IntentRow(name, n, _share(n, total), round(self.confidence[name] / n, 3))
                  for name, n in self.intents.items()]
        result.sort(key=lambda r: (-r.messages, r.name))
        return result


CACHED_REPORTS = 8
_CACHE: dict[tuple[Any, ...], Report] = {}
_CACHE_LOCK = threading.Lock()
# what changes when app.db gets a row the analytics count (or a reply, or a thumbs, on a turn already there)
_VERSION_SQL = {
    "history_turns": "SELECT max(seq), count(reply), count(*) FROM history_turns",
    "history_feedback": "SELECT max(id) FROM history_feedback",
    "curation_log": "SELECT max(id) FROM curation_log",
    "tickets": "SELECT max(rowid), count(*) FROM tickets",
}


def _data_version(db: sqlite3.Connection, tables: set[str]) -> tuple[Any, ...]:
    return tuple(tuple(db.execute(sql).fetchone()) if name in tables else None
                 for name, sql in _VERSION_SQL.items())


def _conversation_bump(handed_over: bool) -> Callable[[Counts], None]:
    def bump(c: Counts) -> None:
        c.conversations += 1
        c.handed_over += int(handed_over)
    return bump


def _message_bump(by_bot: bool, feedback: str | None) -> Callable[[Counts], None]:
    def bump(c: Counts) -> None:
        c.messages += 1
        c.bot_messages += int(by_bot)
        c.up += int(feedback == "up")
        c.down += int(feedback == "down")
    return bump


_MESSAGE_BUMPS = {(by_bot, feedback): _message_bump(by_bot, feedback)
                  for by_bot in (True, False) for feedback in (None, "up", "down")}


def _bump_handover(c: Counts) -> None:
    c.handovers += 1


def _fallback_bump(answered: bool) -> Callable[[Counts], None]:
    def bump(c: Counts) -> None:
        c.fallbacks += 1
        c.unanswered += int(not answered)
    return bump


def _rating_bump(value: str) -> Callable[[Counts], None]:
    def bump(c: Counts) -> None:
        c.up += int(value == "up")
        c.down += int(value == "down")
    return bump


def _merge(into: Counts, other: Counts) -> None:
    for name in ("conversations", "handed_over", "handovers", "messages", "bot_messages", "fallbacks",
                 "unanswered", "up", "down"):
        setattr(into, name, getattr(into, name) + getattr(other, name))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _epoch(iso: str) -> float:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
