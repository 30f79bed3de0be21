"""The input rules of core/inputs.py: the language of a message and of a conversation, and the limits."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.inputs import (
    EmptyText,
    TextTooLong,
    channel_session,
    check_key,
    check_language,
    check_session,
    check_text,
    conversation_language,
    detect_language,
)


def test_language_follows_the_script_of_the_message() -> None:
    assert detect_language("孩子刚出生上户口要带啥") == "zh"
    assert detect_language("居住證要帶什麼") == "zh"
    assert detect_language("how much is a passport") == "en"
    assert detect_language("HD202610120003") is None
    assert detect_language("9187") is None
    assert detect_language('/ask_guide{"aspect":"fees"}') is None


@pytest.mark.parametrize(("text", "current", "hint", "expected"), [
    ("/request_human", None, "en", "en"),  # a first tap in the English web chat
    ("/request_human", None, None, None),  # nothing says: responses fall back to Chinese
    ('/ask_guide{"aspect":"fees"}', "zh", "en", "zh"),  # the conversation's language wins for a payload
    ("/feedback_good", "en", "zh", "en"),
    ("结婚登记要带什么", "en", "en", "zh"),  # a message with a script of its own decides
    ("9187", None, "zh", "zh"),
    ("9187", "xx", "fr", None),  # unknown values are no language
])
def test_conversation_language(
    text: str, current: str | None, hint: str | None, expected: str | None
) -> None:
    assert conversation_language(text, current, hint) == expected


def test_text_limits_name_the_rule() -> None:
    assert check_text("  你好 ", 5) == "你好"
    with pytest.raises(EmptyText, match="'text' is empty"):
        check_text("  \n", 5)
    with pytest.raises(TextTooLong, match="limit is 5") as raised:
        check_text("办" * 6, 5)
    assert raised.value.limit == 5
    with pytest.raises(InvalidInput, match="'text' is missing"):
        check_text(42, 5)


def test_sessions_keys_and_languages() -> None:
    assert check_session(" s1 ") == "s1"
    for bad in ("", "  ", None, "x" * 129):
        with pytest.raises(InvalidInput, match="'session'"):
            check_session(bad)
    assert channel_session("web", "abc-123") == "web:abc-123"
    with pytest.raises(InvalidInput):
        channel_session("web", "has space")
    assert check_key("") == "" and check_key("abcdefgh") == "abcdefgh"
    with pytest.raises(InvalidInput):
        check_key("short")
    assert check_language(None) is None and check_language("en") == "en"
    with pytest.raises(InvalidInput, match="'language'"):
        check_language("fr")
