"""WeChat through wechatpy: requests signed (plain) and encrypted (safe mode) the way WeChat's servers send
them, a fake WeChat API for access tokens and customer-service messages, all on loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from app.keys import CHANNELS
from civic.cli import cli
from tests.connectors.conftest import AppFactory
from tests.connectors.fakes import WX_APP_ID, WX_TOKEN, FakeWeChatAPI, ScriptedChat, WeChatSide, signature

Api = tuple[FakeWeChatAPI, TestServer]
USER = "oUser_123-abc"


async def deliver(client: TestClient, side: WeChatSide, xml: str, bad: bool = False
                  ) -> tuple[int, dict[str, Any]]:
    query, body = side.request(xml, bad)
    resp = await client.post("/wechat", params=query, data=body.encode())
    text = await resp.text()
    return resp.status, side.read_reply(text) if resp.status == 200 else {}


async def test_url_verification_echoes_only_for_a_good_signature(channel_app: AppFactory) -> None:
    client = await channel_app()
    ts, nonce = "1700000000", "n1"
    good = {"signature": signature(WX_TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
            "echostr": "echo123"}
    resp = await client.get("/wechat", params=good)
    assert resp.status == 200 and await resp.text() == "echo123"
    resp = await client.get("/wechat", params={**good, "signature": "0" * 40})
    assert resp.status == 403


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
async def test_a_text_gets_a_passive_xml_reply_with_citations_and_numbered_choices(
    channel_app: AppFactory, chat: ScriptedChat, aes: bool
) -> None:
    client = await channel_app(aes=aes)
    side = WeChatSide(aes=aes)
    status, reply = await deliver(client, side, side.text_xml(USER, "居住证要带什么材料", 1001))
    assert status == 200
    assert reply["MsgType"] == "text" and reply["ToUserName"] == USER
    content = reply["Content"]
    assert "居民身份证原件 <原件> & 复印件" in content  # plain text: nothing escaped
    assert "示范市居住证办理指南 https://www.example.gov.cn/jzz" in content and "示公规〔2023〕5号" in content
    assert content.endswith("回复 1：收费标准\n回复 2：办理地点")
    # the digit maps back to that user's payload
    status, reply = await deliver(client, side, side.text_xml(USER, "1", 1002))
    assert chat.texts()[-1] == '/ask_guide{"aspect":"fees","item":"居住证办理（示范市公安局）"}'
    assert chat.calls[-1][0] == f"wechat:{USER}"
    # another user's "1" is just a "1"
    await deliver(client, side, side.text_xml("oOther", "1", 1003))
    assert chat.texts()[-1] == "1"


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
async def test_a_bad_signature_is_refused(channel_app: AppFactory, chat: ScriptedChat, aes: bool) -> None:
    client = await channel_app(aes=aes)
    side = WeChatSide(aes=aes)
    status, _ = await deliver(client, side, side.text_xml(USER, "你好", 2001), bad=True)
    assert status == 403
    query, body = side.request(side.text_xml(USER, "你好", 2002))
    query["signature"] = "0" * 40
    assert (await client.post("/wechat", params=query, data=body)).status == 403
    assert chat.calls == []


async def test_an_encrypted_message_without_safe_mode_configured_is_refused(channel_app: AppFactory) -> None:
    client = await channel_app(aes=False)
    side = WeChatSide(aes=True)
    status, _ = await deliver(client, side, side.text_xml(USER, "你好", 2003))
    assert status == 403


async def test_the_same_msgid_three_times_is_answered_once_with_the_same_reply(
    channel_app: AppFactory, chat: ScriptedChat
) -> None:
    chat.delay = lambda text: 0.2
    client = await channel_app()
    side = WeChatSide()
    xml = side.text_xml(USER, "居住证要带什么材料", 3001)
    concurrent = await asyncio.gather(*(deliver(client, side, xml) for _ in range(3)))
    later = await deliver(client, side, xml)
    replies = [r["Content"] for _, r in [*concurrent, later]]
    assert len(set(replies)) == 1 and "示范市居住证办理指南" in replies[0]
    assert chat.texts() == ["居住证要带什么材料"]


async def test_a_slow_answer_is_success_now_and_a_customer_service_message_later(
    channel_app: AppFactory, chat: ScriptedChat, wechat_api: Api
) -> None:
    fake, _ = wechat_api
    chat.delay = lambda text: 0.6 if "慢" in text else 0.0
    client = await channel_app(options={"wechat": {"deadline": 0.2}})
    side = WeChatSide()
    xml = side.text_xml(USER, "慢的问题", 4001)
    status, reply = await deliver(client, side, xml)
    assert status == 200 and reply == {}  # "success"
    status, retry = await deliver(client, side, xml)  # WeChat's retry: no second copy
    assert retry == {}
    [sent] = await fake.wait_sent(1)
    assert sent == {"touser": USER, "msgtype": "text", "text": {"content": "收到：慢的问题"}}
    assert fake.tokens_issued == 1
    _, again = await deliver(client, side, xml)
    assert again == {} and len(fake.sent) == 1 and chat.texts() == ["慢的问题"]
    # a fast message after it still gets its passive reply, and the cached token serves the next send
    _, fast = await deliver(client, side, side.text_xml(USER, "快的问题", 4002))
    assert fast["Content"] == "收到：快的问题"
    await client.app[CHANNELS].send(f"wechat:{USER}", "工作人员的回复")
    assert fake.sent[-1]["text"] == {"content": "工作人员的回复"} and fake.tokens_issued == 1


async def test_a_long_answer_is_split_at_2048_bytes(channel_app: AppFactory, chat: ScriptedChat,
                                                    wechat_api: Api) -> None:
    fake, _ = wechat_api
    long_text = "\n".join(f"第{i}条" + "内容" * 100 for i in range(10))  # 10 lines of 609 bytes: 4 texts
    chat.script["长"] = {"messages": [{"text": long_text, "buttons": [], "card": None, "citations": []}]}
    client = await channel_app()
    side = WeChatSide()
    _, reply = await deliver(client, side, side.text_xml(USER, "长", 5001))
    sent = await fake.wait_sent(3)
    parts = [reply["Content"], *(s["text"]["content"] for s in sent)]
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "\n".join(parts) == long_text


async def test_subscribe_welcomes_and_a_menu_click_runs_its_payload_once(
    channel_app: AppFactory, chat: ScriptedChat
) -> None:
    client = await channel_app()
    side = WeChatSide()
    _, welcome = await deliver(client, side, side.event_xml(USER, "subscribe"))
    assert welcome["Content"].startswith("您好！我是示范市政务服务助手")
    assert "回复按钮前的数字" in welcome["Content"]
    assert chat.calls == []
    click = side.event_xml(USER, "CLICK", "/ask_status", created=1700000123)
    first = await deliver(client, side, click)
    second = await deliver(client, side, click)  # a retry: same FromUserName + CreateTime
    assert first == second and first[1]["Content"] == "收到：/ask_status"
    assert chat.texts() == ["/ask_status"]
    _, bye = await deliver(client, side, side.event_xml(USER, "unsubscribe"))
    assert bye == {}


async def test_other_kinds_of_message_get_a_polite_text_only(channel_app: AppFactory,
                                                             chat: ScriptedChat) -> None:
    client = await channel_app()
    side = WeChatSide()
    image = (f"<xml><ToUserName>gh</ToUserName><FromUserName>{USER}</FromUserName><CreateTime>1</CreateTime>"
             "<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MediaId>m</MediaId><MsgId>6001</MsgId></xml>")
    _, reply = await deliver(client, side, image)
    assert reply["Content"] == "目前只能处理文字消息，请用文字描述您的问题。" and chat.calls == []


async def test_a_passed_window_is_logged_not_retried(channel_app: AppFactory, wechat_api: Api,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    fake, _ = wechat_api
    fake.errcode = 45015
    client = await channel_app()
    with caplog.at_level(logging.WARNING, logger="connectors.wechat"), \
            pytest.raises(Exception, match="45015"):
        await client.app[CHANNELS].send(f"wechat:{USER}", "工作人员的回复")
    assert len(fake.sent) == 1
    assert "48-hour window" in caplog.text


async def test_menu_command_publishes_a_yaml_menu(wechat_api: Api, home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake, server = wechat_api
    menu = tmp_path / "menu.yml"
    menu.write_text("button:\n"
                    "  - {name: 查进度, payload: /ask_status}\n"
                    "  - name: 办事指南\n"
                    "    sub_button:\n"
                    "      - {name: 居住证, payload: 居住证要带什么材料}\n"
                    "      - {name: 网上办事大厅, url: 'https://zwfw.example.gov.cn/'}\n"
                    "  - {name: 转人工, payload: /request_human}\n", encoding="utf-8")
    monkeypatch.setenv("CIVIC_WECHAT_APP_ID", WX_APP_ID)
    monkeypatch.setenv("CIVIC_WECHAT_APP_SECRET", "app-secret")
    monkeypatch.setenv("CIVIC_WECHAT_API_URL", str(server.make_url("/cgi-bin/")))
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["wechat", "menu", str(menu)])
    assert result.exit_code == 0, result.output
    [published] = fake.menus
    assert published["button"][0] == {"name": "查进度", "type": "click", "key": "/ask_status"}
    assert published["button"][1]["sub_button"][1] == {"name": "网上办事大厅", "type": "view",
                                                       "url": "https://zwfw.example.gov.cn/"}
    menu.write_text("button:\n  - {name: 一个很长很长很长的菜单名字}\n", encoding="utf-8")
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["wechat", "menu", "--dry-run", str(menu)])
    assert result.exit_code != 0 and len(fake.menus) == 1
