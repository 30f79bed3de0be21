"""Telegram through python-telegram-bot against a fake Bot API on loopback: webhook and polling mode."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from app.keys import CHANNELS, CONVERSATIONS, HISTORY, TELEGRAM_CONNECTOR
from civic.cli import cli
from connectors.ratelimit import Limit
from connectors.render import Line, pack
from tests.app.fakes import FakeEngine
from tests.connectors.conftest import TG_SECRET, TG_TOKEN, AppFactory
from tests.connectors.fakes import FakeBotAPI, ScriptedChat, tg_callback, tg_message

HEADER = "X-Telegram-Bot-Api-Secret-Token"
Bot = tuple[FakeBotAPI, TestServer]


async def post(client: TestClient, update: dict[str, Any], secret: str | None = TG_SECRET) -> int:
    headers = {HEADER: secret} if secret is not None else {}
    resp = await client.post("/telegram/webhook", json=update, headers=headers)
    return resp.status


def keyboard(call: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(json.loads(call["reply_markup"])["inline_keyboard"])


async def test_a_message_is_answered_with_html_citations_and_an_inline_keyboard(
    channel_app: AppFactory, bot_api: Bot, chat: ScriptedChat
) -> None:
    fake, _ = bot_api
    client = await channel_app()
    assert fake.of("getMe"), "PTB's initialize() asks who the bot is"
    assert await post(client, tg_message(1, 777, "居住证要带什么材料")) == 200
    [sent] = await fake.wait_for("sendMessage")
    assert sent["chat_id"] == "777" and sent["parse_mode"] == "HTML"
    text = sent["text"]
    assert "&lt;原件&gt; &amp; 复印件" in text  # escaped
    assert '<a href="https://www.example.gov.cn/jzz">示范市居住证办理指南</a>' in text
    assert "示公规〔2023〕5号" in text and "示范市公安局" in text
    rows = keyboard(sent)
    assert [[b["text"] for b in row] for row in rows] == [["收费标准", "办理地点"], ["👍", "👎"]]
    assert all(len(b["callback_data"].encode()) <= 64 for row in rows for b in row)
    assert chat.calls == [("telegram:777", "居住证要带什么材料", "zh", "telegram")]


async def test_a_button_tap_answers_the_callback_and_sends_the_payload(
    channel_app: AppFactory, bot_api: Bot, chat: ScriptedChat
) -> None:
    fake, _ = bot_api
    client = await channel_app()
    await post(client, tg_message(1, 777, "居住证要带什么材料"))
    [sent] = await fake.wait_for("sendMessage")
    fees = keyboard(sent)[0][0]["callback_data"]
    assert await post(client, tg_callback(2, 777, fees)) == 200
    [answered] = await fake.wait_for("answerCallbackQuery")
    assert answered["callback_query_id"] == "cbq00000002"
    await fake.wait_for("sendMessage", 2)
    assert chat.texts()[-1] == '/ask_guide{"aspect":"fees","item":"居住证办理（示范市公安局）"}'
    history = client.app[HISTORY]
    turn = history.find("telegram:777", "tg-cb-cbq00000002")
    assert turn is not None and turn.label == "收费标准"
    # the same update delivered again does not run the dialogue again
    await post(client, tg_callback(2, 777, fees))
    await fake.wait_for("answerCallbackQuery", 2)
    await fake.wait_for("sendMessage", 3)
    assert len(chat.calls) == 2


async def test_feedback_and_an_unknown_button(channel_app: AppFactory, bot_api: Bot) -> None:
    fake, _ = bot_api
    client = await channel_app()
    await post(client, tg_message(1, 777, "居住证要带什么材料"))
    [sent] = await fake.wait_for("sendMessage")
    thumbs_up = keyboard(sent)[-1][0]["callback_data"]
    await post(client, tg_callback(2, 777, thumbs_up))
    [answered] = await fake.wait_for("answerCallbackQuery")
    assert answered["text"] == "感谢您的反馈！"
    assert client.app[HISTORY].find("telegram:777", "tg-m-777-1").feedback == "up"  # type: ignore[union-attr]
    await post(client, tg_callback(3, 777, "p:0000000000000000"))
    answers = await fake.wait_for("answerCallbackQuery", 2)
    assert answers[1]["text"] == "这个按钮已失效，请重新提问。"


async def test_a_wrong_or_missing_secret_is_refused(channel_app: AppFactory, bot_api: Bot,
                                                   chat: ScriptedChat) -> None:
    client = await channel_app()
    assert await post(client, tg_message(1, 777, "你好"), secret="wrong") == 403
    assert await post(client, tg_message(1, 777, "你好"), secret=None) == 403
    no_secret = await channel_app(telegram_webhook_secret="")
    assert await post(no_secret, tg_message(1, 777, "你好"), secret="") == 403
    await asyncio.sleep(0.1)
    assert chat.calls == [] and bot_api[0].of("sendMessage") == []


async def test_a_channel_without_settings_is_off(channel_app: AppFactory) -> None:
    client = await channel_app(telegram=False, wechat=False)
    assert (await client.post("/telegram/webhook", json={})).status == 404
    assert (await client.get("/wechat")).status == 404
    assert (await client.post("/wechat", data="<xml/>")).status == 404
    assert client.app[CHANNELS].names() == ["web"]


async def test_commands_start_help_lang_and_html_escaping(channel_app: AppFactory, bot_api: Bot,
                                                           chat: ScriptedChat) -> None:
    fake, _ = bot_api
    client = await channel_app()
    await post(client, tg_message(1, 777, "/start"))
    [welcome] = await fake.wait_for("sendMessage")
    assert welcome["text"].startswith("您好！我是示范市政务服务助手") and "/human" in welcome["text"]
    await post(client, tg_message(2, 777, "/lang"))
    sent = await fake.wait_for("sendMessage", 2)
    assert sent[1]["text"] == "Switched to English."
    await post(client, tg_message(3, 777, "/help"))
    sent = await fake.wait_for("sendMessage", 3)
    assert sent[2]["text"].startswith("Just type your question")
    await post(client, tg_message(4, 777, "1234 <b>&"))  # no language of its own: the chosen one is the hint
    sent = await fake.wait_for("sendMessage", 4)
    assert sent[3]["text"] == "收到：1234 &lt;b&gt;&amp;"
    assert chat.calls[-1][2] == "en"
    await post(client, tg_message(5, 888, "hello", language="en-GB"))
    await fake.wait_for("sendMessage", 5)
    assert chat.calls[-1][:3] == ("telegram:888", "hello", "en")


async def test_long_replies_are_split_at_4096_characters(channel_app: AppFactory, bot_api: Bot,
                                                         chat: ScriptedChat) -> None:
    fake, _ = bot_api
    long_text = "\n".join(f"第{i}行" + "很长的内容" * 60 for i in range(40))  # ~12,000 characters
    chat.script["长"] = {"messages": [{"text": long_text, "buttons": [{"title": "转人工",
                                                                          "payload": "/request_human"}],
                                        "card": None, "citations": []}]}
    client = await channel_app()
    await post(client, tg_message(1, 777, "长"))
    await asyncio.sleep(0.5)
    sent = fake.of("sendMessage")
    assert len(sent) == 4 and all(len(s["text"]) <= 4096 for s in sent)
    assert "\n".join(s["text"] for s in sent) == long_text
    assert [("reply_markup" in s) for s in sent] == [False, False, False, True]  # buttons under the last


async def test_a_refused_html_reply_is_sent_again_as_plain_text(channel_app: AppFactory,
                                                                bot_api: Bot) -> None:
    fake, _ = bot_api
    fake.refuse_html = True
    client = await channel_app()
    await post(client, tg_message(1, 777, "居住证要带什么材料"))
    sent = await fake.wait_for("sendMessage", 2)
    assert sent[0]["parse_mode"] == "HTML" and "parse_mode" not in sent[1]
    assert "居民身份证原件 <原件> & 复印件" in sent[1]["text"] and "reply_markup" in sent[1]


def test_pack_cuts_a_line_longer_than_the_limit() -> None:
    chunks = pack([Line.plain("a" * 10), Line.plain("b" * 3)], 4)
    assert ["\n".join(line.text for line in c) for c in chunks] == ["aaaa", "aaaa", "aa", "bbb"]


async def test_per_chat_rate_limit_is_polite_once(channel_app: AppFactory, bot_api: Bot,
                                                  chat: ScriptedChat) -> None:
    fake, _ = bot_api
    client = await channel_app(options={"telegram": {"limit": Limit(burst=2, per_second=0.001)}})
    for i in range(1, 5):
        await post(client, tg_message(i, 777, f"问题{i}"))
    await post(client, tg_message(9, 999, "别的聊天"))
    await fake.wait_for("sendMessage", 4)
    await asyncio.sleep(0.2)
    texts = [s["text"] for s in fake.of("sendMessage") if s["chat_id"] == "777"]
    assert texts[:2] == ["收到：问题1", "收到：问题2"]
    assert texts[2].startswith("您发送得太快了") and len(texts) == 3  # the fourth: quiet
    assert sorted(chat.texts()) == sorted(["问题1", "问题2", "别的聊天"])  # chats run side by side


async def test_human_hands_over_and_pauses_the_chat_while_the_engine_is_down(
    channel_app: AppFactory, bot_api: Bot
) -> None:
    """The real ChatService (engine down: the search answers' hand-over) files a ticket and pauses the bot."""
    fake, _ = bot_api
    client = await channel_app(real_chat=True, engine=FakeEngine(up=False))
    await post(client, tg_message(1, 777, "/human"))
    [handover] = await fake.wait_for("sendMessage")
    assert handover["text"].startswith("已为您转接人工客服")
    conversations = client.app[CONVERSATIONS]
    ticket = conversations.paused_ticket("telegram:777")
    assert ticket is not None
    await post(client, tg_message(2, 777, "结婚登记要带什么材料"))
    sent = await fake.wait_for("sendMessage", 2)
    assert ticket in sent[1]["text"] and "请耐心等待回复" in sent[1]["text"]
    # a staff reply reaches the chat through the connector (the console itself is another issue's)
    await client.app[CHANNELS].send("telegram:777", "您好，我是工作人员小王 <请带身份证>")
    sent = await fake.wait_for("sendMessage", 3)
    assert sent[2]["chat_id"] == "777" and sent[2]["text"] == "您好，我是工作人员小王 &lt;请带身份证&gt;"


async def test_polling_mode_deletes_the_webhook_and_answers_updates(
    channel_app: AppFactory, bot_api: Bot, chat: ScriptedChat
) -> None:
    fake, _ = bot_api
    fake.updates.append(tg_message(7, 555, "居住证要带什么材料"))
    client = await channel_app(telegram_mode="polling")
    [sent] = await fake.wait_for("sendMessage")
    assert sent["chat_id"] == "555" and len(keyboard(sent)) == 2  # the two short buttons share a row
    assert fake.calls.index(("deleteWebhook", fake.of("deleteWebhook")[0])) < \
        [name for name, _ in fake.calls].index("getUpdates")
    assert (await post(client, tg_message(8, 555, "你好"), secret="wrong")) == 403
    assert client.app[TELEGRAM_CONNECTOR].polling


async def test_set_webhook_command(bot_api: Bot, home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake, server = bot_api
    monkeypatch.setenv("CIVIC_TELEGRAM_TOKEN", TG_TOKEN)
    monkeypatch.setenv("CIVIC_TELEGRAM_WEBHOOK_SECRET", TG_SECRET)
    monkeypatch.setenv("CIVIC_TELEGRAM_API_URL", str(server.make_url("/bot")))
    url = "https://civic.example.org/telegram/webhook"
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["telegram", "set-webhook", url])
    assert result.exit_code == 0, result.output
    [call] = fake.of("setWebhook")
    assert call["url"] == url and call["secret_token"] == TG_SECRET
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["telegram", "set-webhook", "http://x.example/"])
    assert result.exit_code != 0 and len(fake.of("setWebhook")) == 1
