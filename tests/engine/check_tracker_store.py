"""Run inside the engine's virtualenv by test_persisted.py: CivicTrackerStore returns what Rasa's own
SQLTrackerStore would, and reloads whenever its cached tracker may be stale."""

import asyncio
import sys
import tempfile
from pathlib import Path

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered

from engine.tracker_store import CivicTrackerStore

DOMAIN = Domain.from_yaml('version: "3.1"\nintents: [greet]\nslots:\n  item:\n    type: text\n'
                          '    mappings: [{type: custom}]\n')


def current(tracker) -> list:
    return [e.as_dict() for e in tracker.events]


async def main() -> int:
    db = str(Path(tempfile.mkdtemp()) / "tracker.db")
    store = CivicTrackerStore(domain=DOMAIN, dialect="sqlite", db=db)
    other = CivicTrackerStore(domain=DOMAIN, dialect="sqlite", db=db)  # another engine replica
    plain = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db)  # Rasa's own reading
    failures = []

    def check(what: str, ok: bool) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    tracker = await store.get_or_create_tracker("s")
    tracker.update(ActionExecuted("action_session_start"))  # its first session, as Rasa starts it
    tracker.update(SessionStarted())
    tracker.update(UserUttered("你好", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("item", "结婚登记"))
    await store.save(tracker)
    again = await store.retrieve("s")
    check("a new conversation's first session comes back from the cache", again is tracker)
    read = await plain.retrieve("s")
    check("what is stored is what Rasa reads", current(read)[-2:] == current(tracker)[-2:])
    by_other = await other.retrieve("s")
    by_other.update(UserUttered("谢谢", {"name": "greet", "confidence": 1.0}))
    await other.save(by_other)  # a turn on another replica
    fresh = await store.retrieve("s")
    check("a turn saved elsewhere is seen", fresh is not tracker and fresh.latest_message.text == "谢谢")
    fresh.update(ActionExecuted("action_listen"))  # changed, never saved (a failed turn)
    reloaded = await store.retrieve("s")
    check("an unsaved change is not served",
          reloaded is not fresh and len(reloaded.events) == len(fresh.events) - 1)
    check("slots survive", reloaded.get_slot("item") == "结婚登记")
    reloaded.update(ActionExecuted("action_session_start"))
    reloaded.update(SessionStarted())
    await store.save(reloaded)
    newest = await store.retrieve("s")
    rasa_reads = current(await plain.retrieve("s"))
    check("a new session is read from its start",
          newest is not reloaded and [e.as_dict() for e in newest.events] == rasa_reads)
    return 1 if failures else 0


sys.exit(asyncio.run(main()))
