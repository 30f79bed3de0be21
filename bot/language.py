"""Which language to answer in, from the script of the citizen's message (Traditional Chinese is Chinese)."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

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


class ActionDetectLanguage(Action):
    """Fills the ``language`` slot (custom slot mapping) on every citizen message."""

    def name(self) -> str:
        return "action_detect_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        lang = detect_language(str(tracker.latest_message.get("text") or ""))
        if lang is None or lang == tracker.get_slot("language"):
            return []
        return [SlotSet("language", lang)]
