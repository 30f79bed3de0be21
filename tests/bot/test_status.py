"""The status form's verification: only a match reveals the status; three failures lock the number.

The app checks the citizen's digits (``check_digits``) and the engine's form only ever sees the stand-in
``****`` (``validate_phone_last4`` reads the outcome the app recorded); each test below plays both parts."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from app.conversations import Conversations
from bot.context import BotContext
from bot.status import STAND_IN, ActionShowStatus, ValidateStatusForm, check_digits, normalise_app_no
from tests.bot.conftest import responses, slot_events, tracker

APP = "HD202610120003"  # demo record: phone ends 9187, applicant 张*明


def validate_phone(ctx: BotContext, typed: str, sender: str = "s1",
                   app_no: str = APP) -> tuple[dict[str, Any], list[str]]:
    """The citizen types ``typed`` while the form waits for the digits: the app checks it, the form gets
    the stand-in."""
    check_digits(ctx.archive, ctx.conversations, sender, app_no, typed)  # type: ignore[arg-type]
    dispatcher = CollectingDispatcher()
    t = tracker(STAND_IN, "inform", slots={"app_no": app_no, "requested_slot": "phone_last4"}, sender=sender,
                active_loop="status_form")
    result = ValidateStatusForm(ctx).validate_phone_last4(STAND_IN, dispatcher, t, {})
    return result, responses(dispatcher)


def test_application_numbers_are_normalised() -> None:
    assert normalise_app_no("hd2026 1012-0003") == APP
    assert normalise_app_no("我的编号是HD202610120003") == APP
    assert normalise_app_no("12345") is None


def test_a_malformed_number_is_asked_again(ctx: BotContext) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateStatusForm(ctx).validate_app_no("ABC", dispatcher, tracker("ABC", "inform"), {})
    assert result == {"app_no": None}
    assert responses(dispatcher) == ["utter_status_bad_app_no"]


async def test_matching_digits_reveal_the_status_masked(
    ctx: BotContext, conversations: Conversations, domain: dict[str, Any]
) -> None:
    result, said = validate_phone(ctx, "尾号9187")
    assert result == {"phone_last4": "****"} and said == []  # the digits never reach the tracker
    dispatcher = CollectingDispatcher()
    t = tracker("9187", "inform", slots={"app_no": APP, "phone_last4": "****"}, sender="s1")
    events = await ActionShowStatus(ctx).run(dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_status_result"]
    message = dispatcher.messages[0]
    assert message["applicant"] == "张*明"
    assert message["state"] == "已办结"  # state label from domain.yml
    assert "受理" in message["history"]
    assert message["custom"]["card"]["history"][0]["step"] == "受理"
    assert "9187" not in str(message)
    assert message["custom"]["citations"][0]["id"] == "SF-G-010"
    assert slot_events(events) == {"app_no": None, "phone_last4": None}
    assert conversations.attempts("s1")[0]["ok"] == 1


async def test_status_is_not_shown_without_a_verification_in_this_session(
    ctx: BotContext, domain: dict[str, Any]
) -> None:
    validate_phone(ctx, "9187", sender="other-session")
    dispatcher = CollectingDispatcher()
    t = tracker("9187", "inform", slots={"app_no": APP, "phone_last4": "****"}, sender="s1")
    await ActionShowStatus(ctx).run(dispatcher, t, domain)
    assert dispatcher.messages == []


def test_three_failures_lock_the_number_for_this_session_only(
    ctx: BotContext, conversations: Conversations
) -> None:
    first, said = validate_phone(ctx, "0000")
    assert first == {"phone_last4": None} and said == ["utter_status_verify_failed"]
    validate_phone(ctx, "1111")
    third, said = validate_phone(ctx, "2222")
    assert third == {"app_no": None, "phone_last4": None, "requested_slot": None}
    assert said == ["utter_status_locked"]
    # even the right digits are refused now, and asking with the number again is refused too
    again, said = validate_phone(ctx, "9187")
    assert again["requested_slot"] is None and said == ["utter_status_locked"]
    dispatcher = CollectingDispatcher()
    t = tracker(APP, "inform", sender="s1")
    refused = ValidateStatusForm(ctx).validate_app_no(APP, dispatcher, t, {})
    assert refused["app_no"] is None and responses(dispatcher) == ["utter_status_locked"]
    assert len(conversations.attempts("s1")) == 3  # locked attempts never reach the archive
    # another session is not locked
    ok, _ = validate_phone(ctx, "9187", sender="s2")
    assert ok == {"phone_last4": "****"}


def test_unknown_number_fails_like_a_wrong_phone(ctx: BotContext) -> None:
    result, said = validate_phone(ctx, "1234", app_no="HD209999999999")
    assert result == {"phone_last4": None}
    assert said == ["utter_status_verify_failed"]


def test_the_form_never_takes_a_verification_it_did_not_get_from_the_app(ctx: BotContext) -> None:
    """A citizen typing the stand-in (or anything) while no digits were checked gets asked again."""
    dispatcher = CollectingDispatcher()
    t = tracker(STAND_IN, "inform", slots={"app_no": APP, "requested_slot": "phone_last4"}, sender="s9")
    result = ValidateStatusForm(ctx).validate_phone_last4(STAND_IN, dispatcher, t, {})
    assert result == {"phone_last4": None} and responses(dispatcher) == ["utter_status_bad_phone"]
    validate_phone(ctx, "9187", sender="s9")  # checked once ...
    dispatcher = CollectingDispatcher()
    ValidateStatusForm(ctx).validate_phone_last4(STAND_IN, dispatcher, t, {})  # ... read once
    assert responses(dispatcher) == ["utter_status_bad_phone"]


def test_a_valid_number_makes_the_app_wait_for_the_digits(
    ctx: BotContext, conversations: Conversations
) -> None:
    dispatcher = CollectingDispatcher()
    ValidateStatusForm(ctx).validate_app_no(APP, dispatcher, tracker(APP, "inform", sender="s3"), {})
    pending = conversations.pending_digits("s3")
    assert pending is not None and (pending.app_no, pending.owner) == (APP, "engine")


def test_digits_check_outcomes(ctx: BotContext, conversations: Conversations) -> None:
    assert check_digits(ctx.archive, conversations, "s4", APP, "居住证在哪办") is None  # a digression
    assert check_digits(ctx.archive, conversations, "s4", APP, "91877").kind == "malformed"  # type: ignore
    assert check_digits(ctx.archive, conversations, "s4", APP, "0000").kind == "failed"  # type: ignore
    assert check_digits(ctx.archive, conversations, "s4", APP, "尾号是9187").kind == "ok"  # type: ignore


def test_not_four_digits_is_asked_again_without_counting(
    ctx: BotContext, conversations: Conversations
) -> None:
    result, said = validate_phone(ctx, "918")
    assert result == {"phone_last4": None} and said == ["utter_status_bad_phone"]
    assert conversations.attempts("s1") == []
