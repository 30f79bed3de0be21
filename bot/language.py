"""Which language to answer in, from the script of the citizen's message (Traditional Chinese is Chinese)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.common import latest_intent

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str | None:
    """"zh" when the text has Chinese characters, "en" when it has English words, None when neither
    (digits, emoji, a button payload) — then the conversation keeps its language."""
    if not text or text.startswith("/"):
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(re.sub(r"(?i)\bhd\d+", "", text)):
        return "en"
    return None


class TurnIntents:
    """The intent the engine found for each sender's latest message, noted by ``action_detect_language``
    (which the engine runs on every message) so ChatService can report it without a second NLU call."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._latest: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, sender: str, intent: dict[str, Any]) -> None:
        with self._lock:
            self._latest[sender] = intent
            self._latest.move_to_end(sender)
            while len(self._latest) > self.capacity:
                self._latest.popitem(last=False)

    def take(self, sender: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.pop(sender, None)


class ActionDetectLanguage(Action):
    """Fills the ``language`` slot (custom slot mapping) on every citizen message."""

    def __init__(self, intents: TurnIntents | None = None) -> None:
        self.intents = intents

    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if self.intents is not None:
            self.intents.note(tracker.sender_id, latest_intent(tracker))
        lang = detect_language(str(tracker.latest_message.get("text") or ""))
        if lang is None or lang == tracker.get_slot("language"):
            return []
        return [SlotSet("language", lang)]
