"""Policy answers: by 文号 (with the successor of an abolished one), by topic, by year."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from bot.context import BotContext
from bot.policy import ActionAnswerPolicy
from tests.bot.conftest import FakeRetriever, ent, responses, tracker


async def test_abolished_policy_by_doc_no_names_its_successor(
    ctx: BotContext, domain: dict[str, Any]
) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("示府规[2019]3號还有效吗", "ask_policy",
                entities=[ent("doc_no", "示府规[2019]3號", "RegexEntityExtractor")])
    await ActionAnswerPolicy(ctx).run(dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_policy_found", "utter_doc_not_current"]
    assert dispatcher.messages[1]["new_doc_no"] == "示府规〔2025〕5号"
    citations = dispatcher.messages[0]["custom"]["citations"]
    assert [c["id"] for c in citations] == ["SF-P-001", "SF-P-002"]
    assert citations[0]["status"] == "abolished" and citations[0]["is_current"] is False


async def test_topic_question_goes_to_retrieval_with_policy_filters(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any]
) -> None:
    retriever.add("低保", ("SF-P-006", 0.9))
    dispatcher = CollectingDispatcher()
    t = tracker("低保有什么政策", "ask_policy", entities=[ent("topic", "低保"), ent("year", "2024")])
    await ActionAnswerPolicy(ctx).run(dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_policy_found"]
    assert dispatcher.messages[0]["doc_no"] == "示府规〔2024〕9号"
    _, filters = retriever.calls[-1]
    assert filters is not None and filters.type == "policy" and not filters.issued_from


async def test_a_year_prefers_the_policy_about_that_year_over_the_issue_date(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any]
) -> None:
    # the 2026 contribution notice was issued in 2025; the 2025 one (expired) in 2024
    retriever.add("2026年居民医保缴费的通知", ("SF-P-010", 0.9), ("SF-P-015", 0.8), ("SF-P-011", 0.7))
    dispatcher = CollectingDispatcher()
    t = tracker("2026年居民医保缴费的通知", "ask_policy", entities=[ent("year", "2026")])
    await ActionAnswerPolicy(ctx).run(dispatcher, t, domain)
    citations = dispatcher.messages[0]["custom"]["citations"]
    assert citations[0]["id"] in {"SF-P-011", "SF-P-015"}  # both are about 2026 …
    assert "SF-P-010" not in [c["id"] for c in citations[:2]]  # … the 2025 notice is not


async def test_nothing_found_says_so(ctx: BotContext, domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerPolicy(ctx).run(dispatcher, tracker("火星移民政策", "ask_policy"), domain)
    assert responses(dispatcher) == ["utter_policy_not_found"]


async def test_a_doc_no_written_without_brackets_is_found_in_the_text(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any]
) -> None:
    """「示府规2024年9号」 is 示府规〔2024〕9号 although no regex saw it; retrieval is not asked at all."""
    dispatcher = CollectingDispatcher()
    t = tracker("示府规2024年第09号那个文件说的啥", "ask_policy")
    await ActionAnswerPolicy(ctx).run(dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_policy_found"]
    assert dispatcher.messages[0]["doc_no"] == "示府规〔2024〕9号"
    assert retriever.calls == []


def test_doc_nos_in_a_text_need_the_issuer_code_and_a_known_number(ctx: BotContext) -> None:
    names = ctx.names()
    assert names.doc_nos_in("查一下示府規[2024]9號和示府规2025年5号") == ["SF-P-006", "SF-P-002"]
    # a date (「2024年9号」 with no issuer code before it) and an unknown number are no 文号
    assert names.doc_nos_in("我2024年9号去办的") == []
    assert names.doc_nos_in("示府规2024年99号") == []
