"""The engine's input channel for the app: ``POST /webhooks/civic/webhook``.

Rasa's REST channel answers a turn with the bot's messages only.  The app needs a little more about the turn
it just sent, and it must get it from the answer itself, not from memory shared between two HTTP calls (with
several app replicas, the turn and the action calls land on different processes).  This channel runs the turn
exactly as ``Agent.handle_message`` does — under the conversation's lock: log the message, extract slots,
predict and run actions until the bot listens, save the tracker — and answers::

    {"messages": [...as the REST channel...],
     "intent": {"name", "confidence"},   # what the NLU made of the message
     "events": 57,                       # events in the engine session now (app/compaction.py)
     "form": {"name": "status_form" | null, "requested_slot": "app_no" | null}}

Request body: ``{"sender", "message", "metadata": {"language"?: "zh"|"en", "channel"?, "capabilities"?},
"intent"?}``.  The metadata is stored on the user event (actions read it from ``tracker.latest_message``).
``intent`` (one of :data:`STAND_IN_INTENTS`) skips the NLU: the app sends it with a stand-in text for a
message whose words must not reach the engine (the status check's phone digits, which the app verifies
itself).

The ``language`` slot is set here, before the actions run, by :func:`core.inputs.conversation_language`: the
message's own script, else the conversation's language, else the client's hint.  No action call is spent on
it.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from core.inputs import LANGUAGES, conversation_language
from engine import validation

validation.install()  # this module is what the engine loads of ours first (credentials.yml)

LANGUAGE_SLOT = "language"
STAND_IN_INTENTS = frozenset({"inform"})


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata")
    return dict(metadata) if isinstance(metadata, dict) else {}


class CivicInput(RestInput):
    """Configured in credentials.yml as ``engine.channel.CivicInput``."""

    @classmethod
    def name(cls) -> str:
        return "civic"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        hook = Blueprint("civic_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not sender or not isinstance(text, str):
                return response.json({"error": "send {'sender': str, 'message': str}"}, status=400)
            agent = request.app.ctx.agent
            if agent is None or not agent.is_ready() or agent.processor is None:
                return response.json({"error": "no model loaded"}, status=503)
            metadata = _metadata(body)
            collector = CollectingOutputChannel()
            intent = body.get("intent")
            parse = None
            if intent is not None:
                if intent not in STAND_IN_INTENTS:
                    return response.json({"error": f"intent must be one of {sorted(STAND_IN_INTENTS)}"},
                                         status=400)
                parse = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
                         "intent_ranking": [{"name": intent, "confidence": 1.0}]}
            message = UserMessage(text, collector, sender, parse_data=parse, input_channel=self.name(),
                                  metadata=metadata)
            processor = agent.processor
            async with agent.lock_store.lock(sender):
                # Agent.handle_message -> MessageProcessor.handle_message, keeping the tracker in hand
                tracker = await processor.log_message(message, should_save_tracker=False)
                hint = metadata.get("language") if metadata.get("language") in LANGUAGES else None
                language = conversation_language(text, tracker.get_slot(LANGUAGE_SLOT), hint)
                if language and language != tracker.get_slot(LANGUAGE_SLOT):
                    tracker.update(SlotSet(LANGUAGE_SLOT, language))
                tracker = await processor.run_action_extract_slots(collector, tracker)
                await processor._run_prediction_loop(collector, tracker)
                await processor.run_anonymization_pipeline(tracker)
                await processor.save_tracker(tracker)
            found = tracker.latest_message.intent if tracker.latest_message else {}
            return response.json({
                "messages": collector.messages,
                "intent": {"name": found.get("name"),
                           "confidence": round(float(found.get("confidence") or 0.0), 4)},
                "events": len(tracker.events),
                "form": {"name": tracker.active_loop_name,
                         "requested_slot": tracker.get_slot("requested_slot")},
            })

        return hook
