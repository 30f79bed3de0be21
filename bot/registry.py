"""Every action of the assistant, built with its dependencies (one place to register a new one)."""

from __future__ import annotations

from rasa_sdk import Action

from bot.context import BotContext
from bot.guide import ActionAnswerContact, ActionAnswerGuide
from bot.handover import ActionFallback, ActionHandover, ActionRecordFeedback, ActionRecordTicket
from bot.policy import ActionAnswerPolicy
from bot.session import ActionCompactSession
from bot.status import ActionShowStatus, ValidateStatusForm


def build_actions(ctx: BotContext) -> list[Action]:
    return [
        ActionAnswerGuide(ctx),
        ActionAnswerContact(ctx),
        ActionAnswerPolicy(ctx),
        ValidateStatusForm(ctx),
        ActionShowStatus(ctx),
        ActionHandover(ctx),
        ActionFallback(ctx),
        ActionRecordTicket(ctx),
        ActionRecordFeedback(ctx),
        ActionCompactSession(ctx),
    ]
