"""Telegram and WeChat end to end on the real engine: `civic serve` with both channels pointed at the loopback
fakes; a guide question on each channel is answered with its citation."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xmltodict

from tests.connectors.conftest import TG_SECRET, TG_TOKEN
from tests.connectors.fakes import WX_APP_ID, WX_TOKEN, FakeBotAPI, FakeWeChatAPI, WeChatSide, tg_message
from tests.engine_fixtures import Stack, copy_home, http_json, start_stack
from tests.web.fakes import LiveServer

pytestmark = pytest.mark.engine
QUESTION = "结婚登记要带什么材料"


@pytest.fixture(scope="module")
def channel_stack(trained_home: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[Stack, LiveServer, FakeBotAPI, LiveServer, FakeWeChatAPI]]:
    bot, wechat = FakeBotAPI(), FakeWeChatAPI()
    bot_server, wechat_server = LiveServer(bot.app).start(), LiveServer(wechat.app).start()
    base = tmp_path_factory.mktemp("channels")
    home = copy_home(trained_home, base / "home")
    with (home / "civic.toml").open("a", encoding="utf-8") as f:
        f.write(f'telegram_api_url = "{bot_server.url}/bot"\n'
                f'wechat_api_url = "{wechat_server.url}/cgi-bin/"\n')
    with (home / "secrets.toml").open("a", encoding="utf-8") as f:
        f.write(f'telegram_token = "{TG_TOKEN}"\ntelegram_webhook_secret = "{TG_SECRET}"\n'
                f'wechat_token = "{WX_TOKEN}"\nwechat_app_id = "{WX_APP_ID}"\n'
                'wechat_app_secret = "app-secret"\n')
    stack = start_stack(home, base)
    try:
        yield stack, bot_server, bot, wechat_server, wechat
    finally:
        left = stack.stop()
        bot_server.stop()
        wechat_server.stop()
        assert not left, f"processes left behind by civic serve: {left}"


def expected_citation(stack: Stack) -> dict[str, Any]:
    status, reply = stack.chat("channels-e2e-reference", QUESTION)
    assert status == 200 and reply["mode"] == "dialogue"
    citation: dict[str, Any] = reply["messages"][0]["citations"][0]
    assert citation["id"] == "SF-G-001"
    return citation


def test_telegram_guide_question_is_answered_with_its_citation(channel_stack: Any) -> None:
    stack, bot_server, bot, _, _ = channel_stack
    citation = expected_citation(stack)
    request = urllib.request.Request(
        stack.url + "telegram/webhook", data=json.dumps(tg_message(1, 4242, QUESTION)).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    sent = bot_server.run(bot.wait_for("sendMessage", 1, timeout=60), timeout=70)
    text = "\n".join(s["text"] for s in sent if s["chat_id"] == "4242")
    assert citation["title"] in text and (citation.get("doc_no") or "") in text
    if citation.get("url"):
        assert f'<a href="{citation["url"]}">' in text


def test_wechat_guide_question_is_answered_with_its_citation(channel_stack: Any) -> None:
    stack, _, _, wechat_server, wechat = channel_stack
    citation = expected_citation(stack)
    side = WeChatSide()
    query, body = side.request(side.text_xml("oE2EUser", QUESTION, 990001))
    url = stack.url + "wechat?" + urllib.parse.urlencode(query)
    started = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(url, data=body.encode()), timeout=10) as resp:
        answer = resp.read().decode()
    assert time.monotonic() - started < 5.0  # inside WeChat's wait, passive or not
    if answer == "success":  # a slow machine: the answer follows as a customer-service message
        sent = wechat_server.run(wechat.wait_sent(1, timeout=60), timeout=70)
        content = sent[0]["text"]["content"]
    else:
        content = xmltodict.parse(answer)["xml"]["Content"]
    assert "📄 " + citation["title"] in content
    if citation.get("url"):
        assert citation["url"] in content
    status, health = http_json(stack.url + "healthz")
    assert status == 200, health
