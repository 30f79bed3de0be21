"""The status check: application number, then the phone's last 4 digits; only a match reveals anything.

Not-found and wrong-digits look the same to the citizen (no probing for valid numbers).  Three failures
lock that number for the session for 15 minutes; every attempt is logged (app.conversations).
"""

from __future__ import annotations

import math
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.common import cite, label, language
from bot.context import BotContext
from civic.errors import NotFound

APP_NO = re.compile(r"HD\d{6,14}")
PHONE = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def normalise_app_no(value: str) -> str | None:
    match = APP_NO.search(re.sub(r"[\s-]", "", value).upper())
    return match.group(0) if match else None


class ValidateStatusForm(FormValidationAction):
    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "validate_status_form"

    def _locked(self, dispatcher: CollectingDispatcher, session: str, app_no: str) -> bool:
        seconds = self.ctx.conversations.locked_for(session, app_no)
        if seconds > 0:
            dispatcher.utter_message(response="utter_status_locked", minutes=math.ceil(seconds / 60))
        return seconds > 0

    def validate_app_no(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        app_no = normalise_app_no(str(value or ""))
        if app_no is None:
            dispatcher.utter_message(response="utter_status_bad_app_no")
            return {"app_no": None}
        if self._locked(dispatcher, tracker.sender_id, app_no):
            return {"app_no": None, "phone_last4": None, "requested_slot": None}
        return {"app_no": app_no}

    def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        digits = PHONE.findall(str(value or ""))
        app_no = tracker.get_slot("app_no")
        if len(digits) != 1 or not app_no:
            dispatcher.utter_message(response="utter_status_bad_phone")
            return {"phone_last4": None}
        session = tracker.sender_id
        if self._locked(dispatcher, session, app_no):
            return {"app_no": None, "phone_last4": None, "requested_slot": None}
        ok = self.ctx.archive.verify_application(app_no, digits[0])
        attempt = self.ctx.conversations.record_attempt(session, app_no, ok)
        if attempt.ok:
            return {"phone_last4": "****"}  # the digits themselves never reach the tracker store
        if attempt.locked:
            self._locked(dispatcher, session, app_no)
            return {"app_no": None, "phone_last4": None, "requested_slot": None}
        dispatcher.utter_message(response="utter_status_verify_failed", remaining=attempt.remaining)
        return {"phone_last4": None}


class ActionShowStatus(Action):
    """Runs when the form ends: shows the status only if this session verified the number just now."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def name(self) -> str:
        return "action_show_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reset: list[EventType] = [SlotSet("app_no", None), SlotSet("phone_last4", None)]
        app_no = tracker.get_slot("app_no")
        if not app_no or not self.ctx.conversations.take_verification(tracker.sender_id, app_no):
            return reset
        try:
            app = self.ctx.archive.get_application(app_no)
        except NotFound:
            return reset
        lang = language(tracker)
        history = "\n".join(f"· {e.at[:16].replace('T', ' ')} {e.step}" + (f"：{e.note}" if e.note else "")
                            for e in app.history)
        state = label(domain, f"utter_label_state_{app.state}", lang) or app.state
        card = {
            "type": "status", "app_no": app.app_no, "item": app.item, "applicant": app.applicant_masked,
            "state": app.state, "current_step": app.current_step, "expected_by": app.expected_by,
            "history": [{"step": e.step, "at": e.at, "note": e.note} for e in app.history],
        }
        guide = self.ctx.archive.find(app.guide_id) if app.guide_id else None
        dispatcher.utter_message(
            response="utter_status_result", app_no=app.app_no, item=app.item, applicant=app.applicant_masked,
            submitted_on=app.submitted_on, state=state, current_step=app.current_step,
            expected_by=app.expected_by or "—", history=history,
            json_message={"card": card, "citations": cite([self.ctx.citation(guide)]) if guide else []},
        )
        return reset
