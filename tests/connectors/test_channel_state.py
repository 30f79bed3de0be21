"""What the messaging channels keep in app.db between updates; the registry that reaches a user."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from connectors.base import Capabilities, Channels, Connector
from connectors.channel_state import ChannelState, payload_digest
from connectors.wechat_api import SharedTokens
from core.errors import NotFound
from tests.web.fakes import FakeChat


def test_payloads_choices_languages_and_late_answers(tmp_path: Path) -> None:
    now = [1000.0]
    state = ChannelState(tmp_path / "app.db", clock=lambda: now[0])
    payload = '/ask_guide{"aspect":"fees","item":"居住证办理（示范市公安局）"}'
    digest = state.remember_payload(payload, "收费标准")
    assert digest == payload_digest(payload) and len(digest) == 16
    assert state.payload(digest) == (payload, "收费标准") and state.payload("0" * 16) is None
    state.set_choices("wechat:u", [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}])
    assert state.choice("wechat:u", 2) == ("/b", "B") and state.choice("wechat:v", 1) is None
    state.set_choices("wechat:u", [])  # an answer without buttons clears them
    assert state.choice("wechat:u", 1) is None
    state.set_language("telegram:1", "en")
    assert state.language("telegram:1") == "en" and state.language("telegram:2") == ""
    state.mark_late("wechat:u", "wx-msg-1")
    assert state.is_late("wechat:u", "wx-msg-1") and not state.is_late("wechat:u", "wx-msg-2")
    state.close()
    again = ChannelState(tmp_path / "app.db", clock=lambda: now[0])  # another replica, or a restart
    assert again.payload(digest) == (payload, "收费标准") and again.language("telegram:1") == "en"
    again.forget("telegram:1")
    assert again.language("telegram:1") == ""
    again.close()


def test_the_shared_access_token_expires_a_minute_early(tmp_path: Path) -> None:
    now = [1000.0]
    tokens = SharedTokens(ChannelState(tmp_path / "app.db", clock=lambda: now[0]))
    tokens.set("wx_access_token", "t1", 7200)
    assert tokens.get("wx_access_token") == "t1"
    now[0] += 7200 - 61
    assert tokens.get("wx_access_token") == "t1"
    now[0] += 2
    assert tokens.get("wx_access_token") is None
    tokens.delete("wx_access_token")
    assert tokens.get("wx_access_token", "none") == "none"


class Pushing(Connector):
    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self) -> None:
        super().__init__(FakeChat())
        self.pushed: list[tuple[str, str]] = []

    async def send(self, user: str, text: str) -> None:
        self.pushed.append((user, text))


class Quiet(Connector):
    name: ClassVar[str] = "kiosk"
    capabilities: ClassVar[Capabilities] = Capabilities()


async def test_channels_reach_a_session_on_its_own_channel() -> None:
    channels = Channels()
    sms, kiosk = Pushing(), Quiet(FakeChat())
    channels.add(sms)
    channels.add(kiosk)
    await channels.send("sms:13800000000", "工作人员回复")
    assert sms.pushed == [("13800000000", "工作人员回复")]
    with pytest.raises(NotFound):
        await channels.send("telegram:1", "x")
    with pytest.raises(NotImplementedError):
        await channels.send("kiosk:1", "x")
    assert channels.names() == ["kiosk", "sms"]
