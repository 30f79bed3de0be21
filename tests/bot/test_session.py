"""action_compact_session: a new engine session with the conversation's slots, the earlier lines kept."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from app.conversations import Conversations
from bot.context import BotContext
from bot.handover import ActionHandover
from bot.session import ActionCompactSession
from tests.bot.conftest import tracker

EARLIER = [
    {"event": "session_started", "timestamp": 100.0},
    {"event": "user", "text": "居住证要带什么"},
    {"event": "bot", "text": "办理居住证需要……", "metadata": {"utter_action": "utter_guide_materials"}},
]
SLOTS = {"item": "居住证办理", "aspect": "materials", "requested_slot": None, "app_no": None}


async def compact(ctx: BotContext, t: Tracker) -> list[dict[str, Any]]:
    return await ActionCompactSession(ctx).run(CollectingDispatcher(), t, {})


async def test_a_new_session_starts_with_the_conversations_slots_and_listens(ctx: BotContext) -> None:
    slots = {**SLOTS, "requested_slot": "x"}
    events = await compact(ctx, tracker("谢谢", "thank", slots=slots, events=EARLIER))
    assert events[0]["event"] == "session_started" and events[0]["metadata"]["carried_transcript"]
    carried = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    # empty slots and the form's state are not carried
    assert carried == {"item": "居住证办理", "aspect": "materials", "language": "zh"}
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"


async def test_a_hand_over_after_compaction_sends_staff_the_earlier_lines_too(
    ctx: BotContext, conversations: Conversations
) -> None:
    events = await compact(ctx, tracker("谢谢", "thank", slots=SLOTS, events=EARLIER))
    assert events[0]["event"] == "session_started"
    dispatcher = CollectingDispatcher()
    after = [{**events[0], "timestamp": 123.0}]  # as the engine stores it: re-stamped, mark kept
    await ActionHandover(ctx).run(dispatcher, tracker("转人工", "request_human", events=after), {})
    ticket = conversations.get_ticket(dispatcher.messages[0]["ticket"])
    lines = [line["text"] for line in ticket.transcript]
    assert lines == ["居住证要带什么", "办理居住证需要……", "谢谢", "转人工"]


async def test_a_session_started_after_a_pause_does_not_inherit_the_earlier_lines(
    ctx: BotContext, conversations: Conversations
) -> None:
    await compact(ctx, tracker("谢谢", "thank", slots=SLOTS, events=EARLIER))
    dispatcher = CollectingDispatcher()
    later = [{"event": "session_started", "timestamp": 9000.0}]  # Rasa's own, after a pause
    await ActionHandover(ctx).run(dispatcher, tracker("转人工", "request_human", events=later), {})
    ticket = conversations.get_ticket(dispatcher.messages[0]["ticket"])
    assert [line["text"] for line in ticket.transcript] == ["转人工"]


async def test_no_compaction_while_a_form_waits_for_its_answer(
    ctx: BotContext, conversations: Conversations
) -> None:
    events = await compact(ctx, tracker("HD20240001", "inform", slots={"requested_slot": "phone_last4"},
                                        events=EARLIER, active_loop="status_form"))
    assert [e["event"] for e in events] == ["action"] and events[0]["name"] == "action_listen"
    assert conversations._db.execute("SELECT count(*) FROM carried_transcripts").fetchone()[0] == 0


async def test_no_compaction_right_after_a_failed_turn(ctx: BotContext) -> None:
    t = tracker("阿巴阿巴", "nlu_fallback", events=EARLIER)
    t.events.append({"event": "bot", "text": "抱歉……", "metadata": {"utter_action": "utter_fallback_unsure"}})
    assert [e["event"] for e in await compact(ctx, t)] == ["action"]
    # the same turn answered: compacted
    t.events[-1]["metadata"]["utter_action"] = "utter_guide_materials"
    assert (await compact(ctx, t))[0]["event"] == "session_started"
