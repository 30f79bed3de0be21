"""Telegram across an engine restart, on the real stack (issue 15's target): `civic serve` with Telegram in
webhook mode against the fake Bot API.  The first message is answered by the dialogue; the engine is killed
(SIGKILL, the supervisor restarts it); the messages sent meanwhile get search answers — every update exactly
one ``sendMessage``, none lost; once the engine is back the same conversation goes on in the dialogue (the
service still in context), and a button tap is answered in one round trip (one ``answerCallbackQuery``, one
``sendMessage``)."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.conftest import TG_SECRET, TG_TOKEN
from tests.connectors.fakes import FakeBotAPI, tg_callback, tg_message
from tests.engine_fixtures import Stack, copy_home, http_json
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.engine

CHAT = 515151
OUTAGE = "智能对话正在启动"  # how a search answer begins (domain/responses_standby.yml)
SERVICE = "新生儿出生登记"


@pytest.fixture
def telegram_stack(trained_home: Path, tmp_path: Path, stack_factory: Callable[..., Stack]
                   ) -> Iterator[tuple[Stack, LiveServer, FakeBotAPI]]:
    bot = FakeBotAPI()
    server = LiveServer(bot.app).start()
    home = copy_home(trained_home, tmp_path / "tg-home")
    with (home / "civic.toml").open("a", encoding="utf-8") as f:
        f.write(f'telegram_api_url = "{server.url}/bot"\ntelegram_mode = "webhook"\n')
    with (home / "secrets.toml").open("a", encoding="utf-8") as f:
        f.write(f'telegram_token = "{TG_TOKEN}"\ntelegram_webhook_secret = "{TG_SECRET}"\n')
    stack = stack_factory(home=home)
    try:
        yield stack, server, bot
    finally:
        left = stack.stop()  # before the fake Bot API goes away (stack_factory's own stop is then a no-op)
        server.stop()
        assert not left, f"processes left behind by civic serve: {left}"


def post(stack: Stack, update: dict[str, Any]) -> None:
    request = urllib.request.Request(
        stack.url + "telegram/webhook", data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200  # answered at once, before the turn runs


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def sent(bot: FakeBotAPI) -> list[dict[str, Any]]:
    return [m for m in bot.of("sendMessage") if m["chat_id"] == str(CHAT)]


def reply_to(server: LiveServer, bot: FakeBotAPI, count: int, timeout: float = 90) -> dict[str, Any]:
    """The ``count``-th sendMessage to the chat (waiting for it)."""
    server.run(bot.wait_for("sendMessage", count, timeout=timeout), timeout=timeout + 10)
    return sent(bot)[count - 1]


def callbacks(message: dict[str, Any]) -> list[str]:
    markup = json.loads(message.get("reply_markup") or "{}")
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row
            if str(b.get("callback_data", "")).startswith("p:")]


def dialogue_mode(stack: Stack) -> bool:
    status, reply = http_json(stack.url + "api/chat", {"session": f"probe-{time.time()}", "text": "你好"},
                              timeout=60)
    return status == 200 and reply.get("mode") == "dialogue"


def test_no_reply_is_lost_when_the_engine_restarts_mid_conversation(telegram_stack: Any) -> None:
    stack, server, bot = telegram_stack
    post(stack, tg_message(1, CHAT, "孩子刚出生上户口要带啥"))
    first = reply_to(server, bot, 1)
    assert OUTAGE not in first["text"] and SERVICE in first["text"], first["text"]
    assert first["parse_mode"] == "HTML"

    engine = stack.state()["children"]["engine"]
    os.kill(engine, signal.SIGKILL)
    during = ["出生医学证明丢了怎么办", "结婚登记要带什么材料"]
    for i, text in enumerate(during, start=2):
        post(stack, tg_message(i, CHAT, text))
    answers = [reply_to(server, bot, n) for n in (2, 3)]  # one chat's updates are answered in order
    for answer in answers:
        assert OUTAGE in answer["text"], answer["text"]  # the search answer, not an error or silence
        assert callbacks(answer), "the search answer offers its buttons (status, a person)"
    assert "结婚" in answers[1]["text"] or "婚姻" in answers[1]["text"], answers[1]["text"]

    wait_for(lambda: stack.health()[0] == 200, 300, "the restarted engine")
    assert stack.state()["children"]["engine"] != engine, "the supervisor started a new engine"
    wait_for(lambda: dialogue_mode(stack), 60, "the dialogue")

    post(stack, tg_message(4, CHAT, "那要多少钱？"))  # the service is still in the conversation's context
    after = reply_to(server, bot, 4)
    assert OUTAGE not in after["text"] and SERVICE in after["text"], after["text"]

    buttons = callbacks(after) or callbacks(first)
    assert buttons, "the dialogue's guide answer carries buttons"
    tapped = time.monotonic()
    post(stack, tg_callback(5, CHAT, buttons[0]))
    answer = reply_to(server, bot, 5)
    took = time.monotonic() - tapped
    acks = bot.of("answerCallbackQuery")
    assert [a["callback_query_id"] for a in acks] == [f"cbq{5:08d}"]  # the spinner stopped, once
    assert OUTAGE not in answer["text"] and answer["text"].strip()
    assert took < 30, f"the tap took {took:.1f} s"

    time.sleep(2.0)  # nothing else trickles in: every update got exactly one message
    assert len(sent(bot)) == 5, [m["text"][:60] for m in sent(bot)]
    assert len(bot.of("answerCallbackQuery")) == 1
