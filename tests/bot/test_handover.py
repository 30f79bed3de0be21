"""Fallback, hand-over, tickets and feedback: what is said, what is recorded for staff and curation."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from app.conversations import Conversations
from bot.context import BotContext
from bot.handover import ActionFallback, ActionHandover, ActionRecordFeedback, ActionRecordTicket
from tests.bot.conftest import FakeRetriever, responses, tracker

EARLIER = [
    {"event": "user", "text": "居住证要带什么"},
    {"event": "bot", "text": "办理居住证需要……", "metadata": {"utter_action": "utter_guide_materials"}},
]
FAILED = [
    {"event": "user", "text": "阿巴阿巴"},
    {"event": "bot", "text": "抱歉……", "metadata": {"utter_action": "utter_fallback_unsure"}},
]


async def test_request_human_opens_a_ticket_with_the_transcript_and_pauses_the_session(
    ctx: BotContext, conversations: Conversations, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionHandover(ctx).run(dispatcher, tracker("转人工", "request_human", events=EARLIER), domain)
    assert responses(dispatcher) == ["utter_handover"]
    ticket_id = dispatcher.messages[0]["ticket"]
    assert dispatcher.messages[0]["custom"]["handoff"] is True
    assert conversations.paused_ticket("citizen-1") == ticket_id
    ticket = conversations.get_ticket(ticket_id)
    assert ticket.kind == "handover"
    assert [line["text"] for line in ticket.transcript] == ["居住证要带什么", "办理居住证需要……", "转人工"]
    assert conversations.list_log("handover")[0]["detail"]["ticket"] == ticket_id


async def test_confident_retrieval_answers_an_unrecognised_question_with_its_source(
    ctx: BotContext, retriever: FakeRetriever, conversations: Conversations, domain: dict[str, Any]
) -> None:
    retriever.add("宝宝户口要啥证明", ("SF-G-003", 0.8))
    dispatcher = CollectingDispatcher()
    await ActionFallback(ctx).run(dispatcher, tracker("宝宝户口要啥证明", "nlu_fallback"), domain)
    assert responses(dispatcher) == ["utter_fallback_answer"]
    assert dispatcher.messages[0]["custom"]["citations"][0]["id"] == "SF-G-003"
    assert conversations.list_log("fallback")[0]["detail"]["answered"] is True


async def test_weak_retrieval_says_so_then_a_second_failure_hands_over(
    ctx: BotContext, retriever: FakeRetriever, conversations: Conversations, domain: dict[str, Any]
) -> None:
    retriever.add("阿巴阿巴", ("SF-G-001", 0.1))
    first = CollectingDispatcher()
    await ActionFallback(ctx).run(first, tracker("阿巴阿巴", "nlu_fallback", events=EARLIER), domain)
    assert responses(first) == ["utter_fallback_unsure"]
    assert conversations.paused_ticket("citizen-1") is None
    second = CollectingDispatcher()
    await ActionFallback(ctx).run(second, tracker("呜啦啦", "nlu_fallback", events=FAILED), domain)
    assert responses(second) == ["utter_handover"]
    assert conversations.paused_ticket("citizen-1") is not None
    assert [e["detail"]["answered"] for e in conversations.list_log("fallback")] == [False, False]


async def test_complaints_and_suggestions_become_tickets(
    ctx: BotContext, conversations: Conversations, domain: dict[str, Any]
) -> None:
    complaint = CollectingDispatcher()
    said = tracker("窗口人员态度很差，排队两小时没人管", "complain")
    await ActionRecordTicket(ctx).run(complaint, said, domain)
    assert responses(complaint) == ["utter_complaint_recorded"]
    short = CollectingDispatcher()
    await ActionRecordTicket(ctx).run(short, tracker("我有个建议", "suggest"), domain)
    assert responses(short) == ["utter_suggestion_recorded", "utter_ticket_detail_hint"]
    kinds = {t.kind: t for t in conversations.list_tickets()}
    assert kinds["complaint"].id.startswith("C") and kinds["suggestion"].id.startswith("S")
    assert kinds["complaint"].text == "窗口人员态度很差，排队两小时没人管"


async def test_negative_feedback_is_logged_with_the_answer_it_is_about(
    ctx: BotContext, conversations: Conversations, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("答非所问", "feedback_bad", events=EARLIER)
    await ActionRecordFeedback(ctx).run(dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_feedback_bad"]
    entry = conversations.list_log("feedback_bad")[0]
    assert entry["text"] == "答非所问" and entry["detail"]["answer"] == "办理居住证需要……"


async def test_a_hand_over_is_one_row_in_the_curation_log_with_its_reason(
    ctx: BotContext, conversations: Conversations, domain: dict[str, Any]
) -> None:
    """One hand-over, one row (the curation inbox counts rows): it used to be logged twice."""
    await ActionHandover(ctx).run(CollectingDispatcher(), tracker("转人工", "request_human", events=EARLIER),
                                  domain)
    rows = conversations.list_log("handover")
    assert len(rows) == 1
    assert rows[0]["detail"]["reason"] == "requested" and rows[0]["detail"]["ticket"]
