"""Guide and contact answers: the aspect asked, the others as buttons, citations, context, disambiguation."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from bot.context import BotContext
from bot.guide import ActionAnswerContact, ActionAnswerGuide
from core.settings import REPO_ROOT
from nlu.names import aliases
from tests.bot.conftest import FakeRetriever, ent, responses, slot_events, tracker

BIRTH = "新生儿出生登记（上户口）"
PERMIT = "居住证办理（首次申领）"


async def run(action: Any, dispatcher: CollectingDispatcher, t: Any, domain: dict[str, Any]) -> list[Any]:
    return await action.run(dispatcher, t, domain)


async def test_materials_answer_is_a_checklist_with_the_other_parts_as_buttons_and_a_citation(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    t = tracker("孩子刚出生上户口要带啥", entities=[ent("item", BIRTH), ent("aspect", "materials")])
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_materials"]
    message = dispatcher.messages[0]
    assert message["item"] == BIRTH
    assert message["materials"].startswith("☐ 1. 《出生医学证明》")
    assert message["custom"]["card"]["checklist"][0].startswith("《出生医学证明》")
    assert [c["id"] for c in message["custom"]["citations"]] == ["SF-G-003"]
    assert message["custom"]["citations"][0]["url"].endswith("sf-g-003.html")
    payloads = [b["payload"] for b in message["buttons"]]
    assert all(p.startswith("/ask_guide{") for p in payloads)
    assert {json.loads(p[len("/ask_guide"):])["aspect"] for p in payloads} >= {"fees", "location", "steps"}
    assert "materials" not in {json.loads(p[len("/ask_guide"):])["aspect"] for p in payloads}
    assert message["buttons"][0]["title"] == "收费标准"  # label text from domain.yml
    assert slot_events(events) == {"item": BIRTH, "aspect": "materials"}


async def test_follow_up_without_a_service_answers_for_the_one_in_context(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    t = tracker("那要多少钱？", slots={"item": PERMIT})
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_fees"]
    assert dispatcher.messages[0]["fees"].startswith("首次申领免费")
    assert slot_events(events)["item"] == PERMIT


async def test_a_bare_follow_up_keeps_the_service_whatever_the_model_tagged(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    """「那要多少钱？」 after the birth registration once got the school enrolment's fees: the NLU tagged an
    item in a message that names none, and its slot mapping had overwritten the slot before the action ran."""
    school = "义务教育阶段新生入学登记（小学、初中）"
    earlier = [{"event": "slot", "name": "item", "value": BIRTH}]
    t = tracker("那要多少钱？", entities=[ent("item", school)], slots={"item": school}, events=earlier)
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_fees"]
    assert dispatcher.messages[0]["custom"]["citations"][0]["id"] == "SF-G-003"
    assert slot_events(events)["item"] == BIRTH


async def test_informal_name_and_untagged_aspect_are_understood(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    t = tracker("扯证要多久", entities=[ent("item", "扯证")])
    await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_time_limit"]
    assert dispatcher.messages[0]["item"] == "结婚登记"
    assert dispatcher.messages[0]["legal"] == "当场办理"


async def test_a_name_several_guides_share_offers_them_as_buttons(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    t = tracker("提公积金要什么材料", entities=[ent("item", "提公积金"), ent("aspect", "materials")])
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_which"]
    buttons = dispatcher.messages[0]["buttons"]
    assert len(buttons) == 3
    assert all("住房公积金提取" in b["title"] for b in buttons)
    assert all(json.loads(b["payload"][len("/ask_guide"):])["aspect"] == "materials" for b in buttons)
    assert len(dispatcher.messages[0]["custom"]["citations"]) == 3
    assert "item" not in slot_events(events)


async def test_the_whole_question_picks_among_guides_sharing_a_name(
    ctx: BotContext, retriever: FakeRetriever, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    """「提公积金」 is shared; the rest of the question (「买房」) makes one clearly best: it is answered."""
    text = "买房了想提公积金要什么材料"
    retriever.add(text, ("SF-G-015", 0.6), ("SF-G-014", 0.2), ("SF-G-016", 0.1))
    t = tracker(text, entities=[ent("item", "提公积金"), ent("aspect", "materials")])
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_materials"]
    assert dispatcher.messages[0]["custom"]["citations"][0]["id"] == "SF-G-015"
    assert slot_events(events)["item"] == ctx.archive.find("SF-G-015").title  # type: ignore[union-attr]


async def test_guides_sharing_a_name_that_score_close_are_offered_best_first(
    ctx: BotContext, retriever: FakeRetriever, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    text = "提公积金要什么材料啊"
    retriever.add(text, ("SF-G-016", 0.50), ("SF-G-015", 0.48))
    t = tracker(text, entities=[ent("item", "提公积金"), ent("aspect", "materials")])
    await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_which"]
    cited = [c["id"] for c in dispatcher.messages[0]["custom"]["citations"]]
    assert cited[:2] == ["SF-G-016", "SF-G-015"] and len(cited) == 3


async def test_retrieval_finds_the_guide_when_no_name_matches(
    ctx: BotContext, retriever: FakeRetriever, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    retriever.add("宝宝刚生下来要去派出所登记什么", ("SF-G-003", 0.8), ("SF-G-004", 0.3))
    await run(ActionAnswerGuide(ctx), dispatcher, tracker("宝宝刚生下来要去派出所登记什么"), domain)
    assert responses(dispatcher) == ["utter_guide_overview"]
    assert dispatcher.messages[0]["custom"]["citations"][0]["id"] == "SF-G-003"


async def test_close_retrieval_scores_ask_which_one(
    ctx: BotContext, retriever: FakeRetriever, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    retriever.add("驾照的事情怎么弄", ("SF-G-019", 0.7), ("SF-G-020", 0.68), ("SF-G-021", 0.2))
    await run(ActionAnswerGuide(ctx), dispatcher, tracker("驾照的事情怎么弄"), domain)
    assert responses(dispatcher) == ["utter_guide_which"]
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]][:2] == [
        "机动车驾驶证期满换证", "机动车驾驶证补证"]


async def test_unknown_service_says_so_and_is_logged_for_curation(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await run(ActionAnswerGuide(ctx), dispatcher, tracker("办游艇驾照需要什么材料"), domain)
    assert responses(dispatcher) == ["utter_guide_not_found"]
    assert slot_events(events)["item"] is None
    assert ctx.conversations.list_log("fallback")[0]["text"] == "办游艇驾照需要什么材料"  # type: ignore[attr-defined]


async def test_follow_up_without_context_asks_which_service(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await run(ActionAnswerGuide(ctx), dispatcher, tracker("那要多少钱？"), domain)
    assert responses(dispatcher) == ["utter_ask_item"]


async def test_english_question_gets_english_labels(
    ctx: BotContext, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    t = tracker("how much is a passport", entities=[ent("item", "办护照"), ent("aspect", "fees")],
                slots={"language": "en"})
    await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == ["utter_guide_fees"]
    assert "Documents needed" in [b["title"] for b in dispatcher.messages[0]["buttons"]]


async def test_contact_gives_the_service_phone_with_its_source_or_the_general_line(
    ctx: BotContext, domain: dict[str, Any]
) -> None:
    first = CollectingDispatcher()
    await ActionAnswerContact(ctx).run(first, tracker("电话多少", "ask_contact", slots={"item": "结婚登记"}),
                                       domain)
    assert responses(first) == ["utter_guide_phone"]
    assert first.messages[0]["phone"] == "0799-87651520"
    assert first.messages[0]["custom"]["citations"][0]["id"] == "SF-G-001"
    second = CollectingDispatcher()
    await ActionAnswerContact(ctx).run(second, tracker("电话多少", "ask_contact"), domain)
    assert responses(second) == ["utter_contact_general"]


async def test_without_retrieval_hits_names_in_the_text_and_fragments_still_find_the_guide(
    ctx: BotContext, domain: dict[str, Any]
) -> None:
    longer = CollectingDispatcher()
    t = tracker("居住证签注要带啥", entities=[ent("item", "居住证")])
    await ActionAnswerGuide(ctx).run(longer, t, domain)
    assert longer.messages[0]["item"] == "居住证签注（续期）"  # the longer name in the text wins
    fragment = CollectingDispatcher()
    asked = tracker("护照办理费用", entities=[ent("item", "护照办理")])
    await ActionAnswerGuide(ctx).run(fragment, asked, domain)
    assert responses(fragment) == ["utter_guide_fees"]
    assert fragment.messages[0]["item"] == "普通护照申领"
    traditional = CollectingDispatcher()
    await ActionAnswerGuide(ctx).run(traditional, tracker("宝宝出生了怎么報戶口"), domain)
    assert traditional.messages[0]["custom"]["citations"][0]["id"] == "SF-G-003"


def test_every_demo_guide_has_an_english_name_of_its_own() -> None:
    guides = [json.loads(line) for line in
              (REPO_ROOT / "archive" / "demo" / "guides.jsonl").read_text(encoding="utf-8").splitlines()]
    documents = [SimpleNamespace(title=g["title"], keywords=g["keywords"]) for g in guides]
    unique = aliases(documents)  # type: ignore[arg-type]
    assert len(guides) == 46
    lacking = [g["id"] for g in guides
               if not any(k.isascii() and unique.get(k) == g["title"] for k in g["keywords"])]
    assert lacking == []


@pytest.mark.parametrize(("question", "guide_id", "response"), [
    # services that had no English name before: no entity tagged, nothing for retrieval to find
    ("How do I get a Disability Certificate?", "SF-G-029", "utter_guide_overview"),
    ("what documents do I need for the maternity allowance", "SF-G-031", "utter_guide_materials"),
    ("how long does e-bike registration take", "SF-G-044", "utter_guide_time_limit"),
])
async def test_english_question_about_any_demo_service_finds_its_guide(
    ctx: BotContext, retriever: FakeRetriever, dispatcher: CollectingDispatcher, domain: dict[str, Any],
    question: str, guide_id: str, response: str,
) -> None:
    t = tracker(question, slots={"language": "en"})
    events = await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    assert responses(dispatcher) == [response]
    assert dispatcher.messages[0]["custom"]["citations"][0]["id"] == guide_id
    assert slot_events(events)["item"] == ctx.archive.find(guide_id).title  # type: ignore[union-attr]
    # found by its English name: the one search is the check for a more specific sibling, which the fake
    # retriever answers with nothing
    assert [q for q, _ in retriever.calls] in ([], [question])


def test_english_names_match_whole_words_only(ctx: BotContext) -> None:
    index = ctx.names()
    assert index.longest_mention("my DISABILITY CERTIFICATE expired") == "disability certificate"
    assert index.longest_mention("two disability certificates") is None
    found = ctx.guide_by_title("Residence Permit Application")
    assert found is not None and found.id == "SF-G-007"


async def first_cited(ctx: BotContext, domain: dict[str, Any], t: Any) -> str:
    """The id of the first document the guide answer to ``t`` cites."""
    dispatcher = CollectingDispatcher()
    await run(ActionAnswerGuide(ctx), dispatcher, t, domain)
    return str(dispatcher.messages[0]["custom"]["citations"][0]["id"])


async def test_a_question_that_fits_a_sibling_service_better_gets_the_sibling(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any],
) -> None:
    # 「居住证」 names the first application; the whole question asks for the renewal (SF-G-008), which
    # also goes by 居住证… names and which retrieval ranks first for the whole question
    question = "居住证快到期了怎么续签"
    retriever.add(question, ("SF-G-008", 0.9), ("SF-G-007", 0.5))
    # as tagged, and as the synonym mapper hands it over (the full title of the first application)
    for item in ("居住证", "居住证办理（首次申领）"):
        # the slot mapping has already copied this turn's entity into the item slot
        t = tracker(question, entities=[ent("item", item)], slots={"item": item})
        assert await first_cited(ctx, domain, t) == "SF-G-008", item


async def test_a_better_search_hit_of_another_name_does_not_override_the_named_service(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any],
) -> None:
    # the question names 「居住证」; a guide that is not called anything with 居住证 in it never replaces it
    question = "居住证快到期了怎么续签"
    retriever.add(question, ("SF-G-022", 0.9), ("SF-G-007", 0.5))
    t = tracker(question, entities=[ent("item", "居住证")])
    assert await first_cited(ctx, domain, t) == "SF-G-007"


async def test_the_words_typed_for_a_synonym_mapped_service_count_for_the_sibling_check(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any],
) -> None:
    # 「驾照」 typed, mapped by a synonym to the replacement licence; the question is about renewal on expiry
    question = "驾照明年到期，换证要去哪里"
    retriever.add(question, ("SF-G-019", 0.9), ("SF-G-020", 0.5))
    mapped = {"entity": "item", "value": "机动车驾驶证补证", "extractor": "DIETClassifier",
              "start": 0, "end": 2}
    t = tracker(question, entities=[mapped], slots={"item": "机动车驾驶证补证"})
    assert await first_cited(ctx, domain, t) == "SF-G-019"


async def test_a_fragment_no_guide_is_called_by_is_searched_with_the_whole_question(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any],
) -> None:
    question = "驾照明年到期，换证要去哪里"
    retriever.add("驾照", ("SF-G-020", 0.9), ("SF-G-019", 0.85))  # the fragment alone: a near tie
    retriever.add(question, ("SF-G-019", 0.9), ("SF-G-020", 0.5))
    t = tracker(question, entities=[ent("item", "驾照")], slots={"item": "驾照"})
    assert await first_cited(ctx, domain, t) == "SF-G-019"


async def test_the_fragment_search_stays_when_the_whole_question_finds_a_guide_of_another_name(
    ctx: BotContext, retriever: FakeRetriever, domain: dict[str, Any],
) -> None:
    # English questions reach a guide through its names only; the whole question's words mislead retrieval
    question = "How do I apply for a passport?"
    retriever.add("passport", ("SF-G-022", 0.9))
    retriever.add(question, ("SF-G-012", 0.9), ("SF-G-022", 0.3))
    t = tracker(question, entities=[ent("item", "passport")], slots={"item": "passport", "language": "en"})
    assert await first_cited(ctx, domain, t) == "SF-G-022"
