"""Keeping a long conversation's engine session short: ``action_compact_session``.

Rasa loads and replays every event of the current session on each turn and sends the whole tracker to
every action call, so a turn costs more the longer the session (measured in bench/DIALOGUE.md).
``session_config`` only starts a new session after a pause.  So once a session holds many events the app
asks the engine to run this action between turns (``app.chat.ChatService``; engine ``/execute``): it starts
a new session exactly as Rasa's own ``action_session_start`` does — ``session_started``, the slots carried
over, ``action_listen`` — so the next turn loads only those few events, and the conversation goes on
where it was (「那要多少钱」 still means the service in context).  The lines the new session no longer holds
are kept in ``app.db`` for hand-over and complaint transcripts.

Not compacted (the action only listens): while a form runs (its state and pending question live in the
session) and right after a turn the bot failed on (two failures in a row hand over; the count reads the
previous turn from the session).
"""

from __future__ import annotations

import uuid
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.common import CARRIED_MARK, transcript
from bot.context import BotContext
from bot.handover import turn_failed

ACTION_NAME = "action_compact_session"
# slots that describe the running session itself, not the conversation: never carried over
NOT_CARRIED = frozenset({"requested_slot", "session_started_metadata"})


def carried_slots(tracker: Tracker) -> list[EventType]:
    return [SlotSet(name, value) for name, value in sorted(tracker.slots.items())
            if value is not None and name not in NOT_CARRIED]


class ActionCompactSession(Action):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.active_loop.get("name") or turn_failed(tracker, back=0):
            return [ActionExecuted("action_listen")]
        # the engine re-stamps the events an action returns, so the new session is recognised by a mark
        mark = uuid.uuid4().hex
        earlier = transcript(tracker, conversations=self.ctx.conversations)
        self.ctx.conversations.carry_transcript(tracker.sender_id, mark, earlier)
        started = {"event": "session_started", "timestamp": None, "metadata": {CARRIED_MARK: mark}}
        return [started, *carried_slots(tracker), ActionExecuted("action_listen")]
