"""The engine's tracker store: Rasa's SQL tracker store, without reloading a conversation on every turn.

Rasa's ``SQLTrackerStore`` loads every event of the current session on each turn (a query, a JSON decode per
event, a replay of all of them) and counts the stored events again before saving: ~40 % of the engine's CPU
for a short rule turn here (bench/TRAINING.md).  This store keeps the trackers of recent conversations in
memory and reuses one only when the database still holds what it held when the tracker was stored: the
sender's number of rows (one ``count`` over the sender index) and the tracker's own event count must both
match.  So a turn saved by another engine replica on the same database (PostgreSQL; the lock store orders
the turns of one conversation), a turn that failed before saving, or a new session (which Rasa loads from its
start) all make it load from the database as before.  A new conversation is written without Rasa's count of
what is stored (there is nothing).

On SQLite the connection also runs in WAL mode with ``synchronous=NORMAL``: a commit no longer waits for a
disk flush (a crash of the machine may lose the last turns; a crash of the process loses nothing).

endpoints.yml: ``tracker_store: {type: engine.tracker_store.CivicTrackerStore, dialect: sqlite, db: ...}``;
endpoints.scale.yml: the same store on PostgreSQL, with Rasa's RedisLockStore as the lock that makes the row
count check hold across engine replicas (docs/scaling.md; tests/scale checks the turns in PostgreSQL).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

CACHED_TRACKERS = 2000


@dataclass
class _Cached:
    tracker: DialogueStateTracker | None  # None: the sender had no events when asked (a new conversation)
    events: int  # len(tracker.events) when it matched the database
    rows: int  # the sender's rows in the database then
    created: bool = False  # created in this process (not loaded): its first session may start in memory


class CivicTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cached_trackers: int = CACHED_TRACKERS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = int(cached_trackers)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()  # connections opened from now on get the pragmas

    def _rows(self, session: Any, sender_id: str) -> int:
        found = session.query(sa.func.count(self.SQLEvent.id)).filter(
            self.SQLEvent.sender_id == sender_id).scalar()
        return int(found or 0)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        cached = self._cache.get(sender_id)
        with self.session_scope() as session:
            rows = self._rows(session, sender_id)
            if (cached is not None and cached.tracker is not None and cached.rows == rows
                    and len(cached.tracker.events) == cached.events):
                self._cache.move_to_end(sender_id)
                return cached.tracker
            stored = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all() \
                if rows else []
        if not (self.domain and stored):
            self._remember(sender_id, _Cached(None, 0, rows))  # a conversation about to be created
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(r.data) for r in stored],
                                                 self.domain.slots)
        self._remember(sender_id, _Cached(tracker, len(tracker.events), rows))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        cached = self._cache.get(tracker.sender_id)
        if cached is not None and cached.tracker is tracker:
            stored, created = cached.events, cached.created  # this object's events already in the database
        elif cached is not None and cached.tracker is None and cached.rows == 0:
            stored, created = 0, True  # a new conversation: all its events are new
        else:
            self._cache.pop(tracker.sender_id, None)
            await super().save(tracker)  # counts what is stored, as Rasa does
            return
        await self.stream_events(tracker)
        new = list(tracker.events)[stored:]
        if new:  # one executemany of plain rows: the ORM's bookkeeping per event costs more than the insert
            rows = [self._row(tracker.sender_id, e) for e in new]
            with self.session_scope() as session:
                session.execute(self.SQLEvent.__table__.insert(), rows)
                session.commit()
        sessions = sum(isinstance(event, SessionStarted) for event in tracker.events)
        if any(isinstance(event, SessionStarted) for event in new) and (not created or sessions > 1):
            # a new session of a stored conversation: Rasa loads it from its start (the first session of a
            # conversation created here holds nothing before it but the creation's own action_listen)
            self._cache.pop(tracker.sender_id, None)
        else:
            entry = _Cached(tracker, len(tracker.events), cached.rows + len(new), created)
            self._remember(tracker.sender_id, entry)

    @staticmethod
    def _row(sender_id: str, event: Any) -> dict[str, Any]:
        """The columns SQLTrackerStore.save writes for one event."""
        data = event.as_dict()
        return {
            "sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
            "action_name": data.get("name"), "data": json.dumps(data),
        }

    def _remember(self, sender_id: str, entry: _Cached) -> None:
        self._cache[sender_id] = entry
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
