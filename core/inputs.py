"""The rules every piece of citizen input must meet, in one place: session ids, idempotency keys, message
text, labels and languages.

The REST API, the connectors (web chat, later Telegram, WeChat, the hotline) and the dialogue all call these,
so a limit is the same wherever a message comes in.  Each rule raises a named
:class:`~core.errors.InvalidInput` whose message tells the client which rule it broke; the web chat maps the
subclasses to its error codes.
"""

from __future__ import annotations

import re

from core.errors import InvalidInput

LANGUAGES = frozenset({"zh", "en"})
MAX_SESSION_CHARS = 128  # a conversation id given by an API client
MAX_LABEL_CHARS = 200  # what a channel shows for a tapped button
_USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # a channel's own id of a citizen
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # an idempotency key
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")
_APP_NO = re.compile(r"(?i)\bhd\d+")


class EmptyText(InvalidInput):
    """The message has no text."""


class TextTooLong(InvalidInput):
    """The message is longer than the limit."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def is_payload(text: str) -> bool:
    """A tapped button's payload (「/ask_guide{...}」) rather than words the citizen typed."""
    return text.lstrip().startswith("/")


def detect_language(text: str) -> str | None:
    """"zh" when the text has Chinese characters, "en" when it has English words, None when neither
    (digits, emoji, a button payload): then the conversation keeps its language."""
    if not text or is_payload(text):
        return None
    if _CJK.search(text):
        return "zh"
    if _LATIN.search(_APP_NO.sub("", text)):
        return "en"
    return None


def conversation_language(text: str, current: str | None, hint: str | None) -> str | None:
    """The language to answer ``text`` in: its own script decides; a message without one (a payload, digits)
    keeps the conversation's language, and only when the conversation has none yet the client's hint (its UI
    language) decides.  None when nothing says (the responses' default variant, Chinese, is used)."""
    current = current if current in LANGUAGES else None
    hint = hint if hint in LANGUAGES else None
    return detect_language(text) or current or hint


def check_language(value: object, name: str = "language") -> str | None:
    """An optional language hint: None when absent or "", else one of LANGUAGES."""
    if value is None or value == "":
        return None
    if value not in LANGUAGES:
        raise InvalidInput(f"'{name}' must be one of {sorted(LANGUAGES)} when given")
    return str(value)


def check_text(text: object, max_chars: int, name: str = "text") -> str:
    """The message text, stripped; it must be a non-empty string of at most ``max_chars`` characters."""
    if not isinstance(text, str):
        raise InvalidInput(f"'{name}' is missing: send the citizen's message as a string")
    stripped = text.strip()
    if not stripped:
        raise EmptyText(f"'{name}' is empty: send the citizen's message")
    if len(stripped) > max_chars:
        raise TextTooLong(
            f"'{name}' is {len(stripped)} characters long; the limit is {max_chars}. Please shorten it.",
            max_chars,
        )
    return stripped


def check_session(session: object) -> str:
    """A conversation id chosen by an API client: a non-empty string of at most MAX_SESSION_CHARS."""
    if not isinstance(session, str) or not session.strip():
        raise InvalidInput("'session' is missing: send a non-empty string that identifies the conversation")
    if len(session) > MAX_SESSION_CHARS:
        raise InvalidInput(f"'session' is longer than {MAX_SESSION_CHARS} characters")
    return session.strip()


def channel_session(channel: str, user: str) -> str:
    """The dialogue session of a citizen on a channel (``"<channel>:<user>"``), the same across the
    transports of that channel."""
    if not _USER_ID.match(user):
        raise InvalidInput("the session id must be 1-64 letters, digits or _.@-")
    return f"{channel}:{user}"


def check_key(key: str) -> str:
    """An idempotency key ("" when the channel cannot re-deliver)."""
    if key and not _KEY.match(key):
        raise InvalidInput("the idempotency key must be 8-64 letters, digits, _ or -")
    return key


def check_label(label: str) -> str:
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"the label is longer than {MAX_LABEL_CHARS} characters")
    return label
