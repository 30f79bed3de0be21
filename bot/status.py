"""The status check: application number, then the phone's last 4 digits; only a match reveals anything.

Not-found and wrong-digits look the same to the citizen (no probing for valid numbers).  Three failures
lock that number for the session for 15 minutes; every attempt is logged (app.conversations).

The digits never reach the engine: once the form has the number (``validate_app_no`` records that the check
waits for the digits), the app checks the citizen's next message itself with :func:`check_digits` and sends
the engine a stand-in ("****", intent inform) instead; ``validate_phone_last4`` reads the outcome the app
recorded. The search answers that stand in for the dialogue while the engine is down (``app/standby.py``) use
the same check and :func:`status_view`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from archive.models import Application
from bot.common import cite, label, language
from bot.context import BotContext
from core.errors import NotFound

APP_NO = re.compile(r"HD\d{6,14}")
PHONE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
DIGITS_SLOT = "phone_last4"  # the form's slot for the digits (its value is only ever the stand-in)
STAND_IN = "****"  # what the engine sees (and stores) in place of the citizen's digits
STAND_IN_INTENT = "inform"
ENGINE, STANDBY = "engine", "standby"  # who asked for the digits (Pending.owner)


def normalise_app_no(value: str) -> str | None:
    match = APP_NO.search(re.sub(r"[\s-]", "", value).upper())
    return match.group(0) if match else None


class StatusStore(Protocol):
    """What the check needs from app.conversations.Conversations."""

    def locked_for(self, session: str, app_no: str) -> float: ...
    def record_attempt(self, session: str, app_no: str, ok: bool) -> Any: ...


class Verifier(Protocol):
    def verify_application(self, app_no: str, phone_last4: str) -> bool: ...


@dataclass(frozen=True)
class DigitsOutcome:
    kind: str  # "ok" | "failed" | "locked" | "malformed"
    remaining: int = 0  # failed: attempts left
    minutes: int = 0  # locked: minutes left on the lock


def check_digits(archive: Verifier, store: StatusStore, session: str, app_no: str,
                 text: str) -> DigitsOutcome | None:
    """Check the citizen's answer to 「手机号后4位」 for ``app_no``; None when ``text`` has no digits at
    all (it is not an answer but a digression: a question, 「不查了」).  Records the attempt (and the
    lock)."""
    if not any(ch.isdigit() for ch in text):
        return None
    seconds = store.locked_for(session, app_no)
    if seconds > 0:
        return DigitsOutcome("locked", minutes=math.ceil(seconds / 60))
    digits = PHONE.findall(text)
    if len(digits) != 1:
        return DigitsOutcome("malformed")
    attempt = store.record_attempt(session, app_no, archive.verify_application(app_no, digits[0]))
    if attempt.ok:
        return DigitsOutcome("ok")
    if attempt.locked:
        return DigitsOutcome("locked", minutes=math.ceil(store.locked_for(session, app_no) / 60))
    return DigitsOutcome("failed", remaining=attempt.remaining)


def status_view(ctx: BotContext, app: Application, domain: dict[str, Any],
                lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values of ``utter_status_result`` and its card and citations, for the action and for standby."""
    history = "\n".join(f"· {e.at[:16].replace('T', ' ')} {e.step}" + (f"：{e.note}" if e.note else "")
                        for e in app.history)
    state = label(domain, f"utter_label_state_{app.state}", lang) or app.state
    card = {
        "type": "status", "app_no": app.app_no, "item": app.item, "applicant": app.applicant_masked,
        "state": app.state, "current_step": app.current_step, "expected_by": app.expected_by,
        "history": [{"step": e.step, "at": e.at, "note": e.note} for e in app.history],
    }
    guide = ctx.archive.find(app.guide_id) if app.guide_id else None
    values = {
        "app_no": app.app_no, "item": app.item, "applicant": app.applicant_masked,
        "submitted_on": app.submitted_on, "state": state, "current_step": app.current_step,
        "expected_by": app.expected_by or "—", "history": history,
    }
    return values, {"card": card, "citations": cite([ctx.citation(guide)]) if guide else []}


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
        self.ctx.conversations.expect_digits(tracker.sender_id, app_no, ENGINE)
        return {"app_no": app_no}

    def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        app_no = tracker.get_slot("app_no")
        session = tracker.sender_id
        if not app_no:
            dispatcher.utter_message(response="utter_status_bad_phone")
            return {"phone_last4": None}
        if self._locked(dispatcher, session, app_no):
            return {"app_no": None, "phone_last4": None, "requested_slot": None}
        attempt = self.ctx.conversations.take_attempt(session, app_no)
        if attempt is None:  # the app checked no digits for this turn: they were not 4 digits
            dispatcher.utter_message(response="utter_status_bad_phone")
            return {"phone_last4": None}
        if attempt.ok:
            return {"phone_last4": STAND_IN}
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
        values, extra = status_view(self.ctx, app, domain, language(tracker))
        dispatcher.utter_message(response="utter_status_result", json_message=extra, **values)
        return reset
