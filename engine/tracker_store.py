"""The engine's tracker store: Rasa's SQL tracker store, without reloading a conversation on every turn.

Rasa's ``SQLTrackerStore`` loads every event of the current session on each turn (a query, a JSON decode per
event, a replay of all of them) and counts the stored events again before saving: ~40 % of the engine's CPU
for a short rule turn here (bench/TRAINING.md).  This store keeps the trackers of recent conversations in
memory and reuses one only when the database still ends where it ended when it was stored: the last event id
of the sender (one indexed ``max(id)`` query) and the tracker's own event count must both match.  So a turn
saved by another engine replica on the same database (PostgreSQL; the lock store orders the turns of one
conversation), a turn that failed before saving, or a new session (which Rasa loads from its start) all make
it load from the database as before.

On SQLite the connection also runs in WAL mode with ``synchronous=NORMAL``: a commit no longer waits for a
disk flush (a crash of the machine may lose the last turns; a crash of the process loses nothing).

endpoints.yml: ``tracker_store: {type: engine.tracker_store.CivicTrackerStore, dialect: sqlite, db: ...}``.
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
    tracker: DialogueStateTracker
    events: int  # len(tracker.events) when it matched the database
    last_id: int  # the sender's last event id in the database then


class CivicTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cached_trackers: int = CACHED_TRACKERS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = int(cached_trackers)
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.engine.dispose()  # connections opened from now on get the pragmas

    def _last_id(self, session: Any, sender_id: str) -> int:
        found = session.query(sa.func.max(self.SQLEvent.id)).filter(
            self.SQLEvent.sender_id == sender_id).scalar()
        return int(found or 0)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        cached = self._cache.get(sender_id)
        with self.session_scope() as session:
            last_id = self._last_id(session, sender_id)
            unchanged = cached is not None and cached.last_id == last_id
            if cached is not None and unchanged and len(cached.tracker.events) == cached.events:
                self._cache.move_to_end(sender_id)
                return cached.tracker
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
        self._cache.pop(sender_id, None)
        if not (self.domain and rows):
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(r.data) for r in rows],
                                                 self.domain.slots)
        self._remember(sender_id, _Cached(tracker, len(tracker.events), last_id))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        cached = self._cache.get(tracker.sender_id)
        if cached is None or cached.tracker is not tracker:
            self._cache.pop(tracker.sender_id, None)
            await super().save(tracker)  # counts what is stored, as Rasa does
            return
        await self.stream_events(tracker)
        new = list(tracker.events)[cached.events:]
        with self.session_scope() as session:
            rows = [self._row(tracker.sender_id, event) for event in new]
            session.add_all(rows)
            session.commit()
            last_id = max((int(r.id) for r in rows), default=cached.last_id)
        if any(isinstance(event, SessionStarted) for event in new):
            self._cache.pop(tracker.sender_id, None)  # Rasa loads a new session from its start
        else:
            self._remember(tracker.sender_id, _Cached(tracker, len(tracker.events), last_id))

    def _row(self, sender_id: str, event: Any) -> Any:
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get("name"),
            action_name=data.get("name"), data=json.dumps(data),
        )

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
