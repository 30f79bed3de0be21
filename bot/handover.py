"""When the bot cannot help: fallback to retrieval, hand-over to staff, tickets, feedback for curation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.common import intent_name, transcript, user_text
from bot.context import BotContext
from bot.search_answer import best_answer

FAILED_RESPONSES = frozenset({"utter_fallback_unsure", "utter_default", "utter_guide_not_found"})


def turn_failed(tracker: Tracker, back: int = 1) -> bool:
    """Did the bot fail to help on a citizen's message: ``back=0`` the latest (its replies so far),
    ``back=1`` the one before it?"""
    users_seen = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen > back:
                return False
        elif (kind == "bot" and users_seen == back
              and (event.get("metadata") or {}).get("utter_action") in FAILED_RESPONSES):
            return True
    return False


def previous_turn_failed(tracker: Tracker) -> bool:
    """Did the bot fail to help on the citizen's previous message (the one before the latest)?"""
    return turn_failed(tracker, back=1)


def hand_over(ctx: BotContext, dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> None:
    ticket = ctx.conversations.handover(tracker.sender_id, user_text(tracker),
                                          transcript(tracker, conversations=ctx.conversations),
                                          {"reason": reason})
    dispatcher.utter_message(response="utter_handover", ticket=ticket.id,
                             json_message={"handoff": True, "ticket": ticket.id})


class ActionHandover(Action):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_handover"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        hand_over(self.ctx, dispatcher, tracker, "requested")
        return []


class ActionFallback(Action):
    """Low NLU confidence: answer from retrieval when it is confident (cited); else say so and offer help.

    The second failed turn in a row hands the conversation over to a person.
    """

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = user_text(tracker)
        found = best_answer(self.ctx.retriever, text)
        if found is not None and found.score >= self.ctx.tuning.fallback_min_score:
            dispatcher.utter_message(
                response="utter_fallback_answer", title=found.title, passage=found.passage,
                json_message={"card": found.card(), "citations": found.citations},
            )
            note = found.not_current()
            if note is not None:
                dispatcher.utter_message(response=note[0], **note[1])
            self.ctx.conversations.log("fallback", tracker.sender_id, text,
                                       {"answered": True, "doc_id": found.hit.doc_id, "score": found.score})
            return []
        self.ctx.conversations.log("fallback", tracker.sender_id, text,
                                   {"answered": False, "score": found.score if found else None})
        if previous_turn_failed(tracker):
            hand_over(self.ctx, dispatcher, tracker, "two_failed_turns")
            return []
        dispatcher.utter_message(response="utter_fallback_unsure")
        return []


class ActionRecordTicket(Action):
    """A complaint or a suggestion becomes a ticket with the citizen's words and the transcript."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_record_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = intent_name(tracker)
        kind = "suggestion" if intent == "suggest" else "complaint"
        text = user_text(tracker)
        ticket = self.ctx.conversations.open_ticket(kind, tracker.sender_id, text,
                                                    transcript(tracker, conversations=self.ctx.conversations))
        response = "utter_suggestion_recorded" if kind == "suggestion" else "utter_complaint_recorded"
        dispatcher.utter_message(response=response, ticket=ticket.id, json_message={"ticket": ticket.id})
        if len(text.strip()) < 12:
            dispatcher.utter_message(response="utter_ticket_detail_hint")
        return []


class ActionRecordFeedback(Action):
    """Thumbs up/down on the previous answer; negative feedback is kept for the admins' curation."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = intent_name(tracker)
        good = intent == "feedback_good"
        answered = next((e.get("text") for e in reversed(tracker.events[:-1])
                         if e.get("event") == "bot" and e.get("text")), "")
        self.ctx.conversations.log("feedback_good" if good else "feedback_bad", tracker.sender_id,
                                   user_text(tracker), {"answer": answered or ""})
        dispatcher.utter_message(response="utter_feedback_good" if good else "utter_feedback_bad")
        return []
