"""The hand-over queue over the real app (real ChatService, a fake engine): a paused web chat waits in the
queue and is told its place, one staff member takes it (others are refused), replies reach the citizen's
socket at once as from 「人工客服 N号」 and stay in the chat's history, the citizen's messages reach the
ticket, and a release gives the session back to the bot.  Every action is an audit row; only staff (and
admins) get in; a state-changing request needs the session's CSRF token."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from app.keys import AUDIT, CHANNELS, CONVERSATIONS
from app.staff_console import DESK
from connectors.base import Capabilities, Connector
from tests.admin.conftest import SignedIn

ALICE, BOB = "a" * 32, "b" * 32


async def next_frame(ws: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame of type ``kind`` on the citizen's socket (others are skipped)."""
    async def read() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame.get("type") == kind:
                return frame

    return await asyncio.wait_for(read(), timeout)


async def say(ws: Any, key: str, text: str) -> dict[str, Any]:
    await ws.send_json({"type": "message", "key": key, "text": text, "lang": "zh"})
    return await next_frame(ws, "reply")


def hand_over(client: TestClient, user: str, text: str) -> str:
    conversations = client.app[CONVERSATIONS]
    return conversations.handover(f"web:{user}", text, [{"role": "citizen", "text": text}]).id


async def test_only_staff_and_admins_get_in(admin_client: TestClient, signed_in: SignedIn) -> None:
    response = await admin_client.get("/staff", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/admin/sign-in")
    assert (await admin_client.get("/api/admin/staff/queue")).status == 401
    editor = await signed_in("editor1")
    assert (await editor.get("/staff", allow_redirects=False)).status == 403
    assert (await editor.get("/api/admin/staff/queue")).status == 403
    for name in ("staff1", "admin1"):
        client = await signed_in(name)
        page = await client.get("/staff")
        assert page.status == 200
        html = await page.text()
        assert "转人工队列 Hand-over queue" in html and 'href="/staff"' in html  # in the console's navigation
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert "<script>" not in html and "style=" not in html


async def test_the_route_guard_test_sees_the_staff_routes(admin_client: TestClient) -> None:
    from tests.admin.test_route_guards import console_routes

    paths = {path for _method, path, _handler in console_routes(admin_client.app)}
    assert {"/staff", "/staff/handovers/{ticket}", "/api/admin/staff/queue",
            "/api/admin/staff/calls/{call_id}/order"} <= paths


async def test_a_handover_taken_answered_and_given_back(admin_client: TestClient, signed_in: SignedIn
                                                        ) -> None:
    staff, admin = await signed_in("staff1"), await signed_in("admin1")
    alice = await admin_client.ws_connect(f"/ws?session={ALICE}")
    bob = await admin_client.ws_connect(f"/ws?session={BOB}")
    # before the hand-over the bot answers
    assert (await say(alice, "key-0000", "你好"))["reply"]["messages"][0]["text"] == "echo:你好"
    first = await asyncio.to_thread(hand_over, admin_client, ALICE, "转人工，我的手机13812345678")
    second = await asyncio.to_thread(hand_over, admin_client, BOB, "我要找人工")
    admin_client.app[DESK].wake()
    assert await next_frame(alice, "queue") == {"type": "queue", "state": "waiting", "ticket": first,
                                                "position": 1}
    assert (await next_frame(bob, "queue"))["position"] == 2

    queue = await (await staff.get("/api/admin/staff/queue")).json()
    assert [(h["ticket"], h["state"], h["position"]) for h in queue["handovers"]] == [
        (first, "waiting", 1), (second, "waiting", 2)]
    assert "13812345678" not in str(queue) and "〔手机号〕" in queue["handovers"][0]["text"]

    # without the CSRF token nothing happens
    refused = await staff.post(f"/api/admin/staff/handovers/{first}/take", json={})
    assert refused.status == 403
    take = await staff.post(f"/api/admin/staff/handovers/{first}/take", json={},
                            headers={"X-CSRF-Token": staff.csrf})  # type: ignore[attr-defined]
    assert take.status == 200, await take.text()
    label = (await take.json())["label"]
    assert label.startswith("人工客服 ") and label.endswith("号")
    taken = await next_frame(alice, "queue")
    assert taken == {"type": "queue", "state": "taken", "ticket": first, "agent": label}
    assert (await next_frame(bob, "queue"))["position"] == 1  # Bob moved up
    # others see it taken and cannot take it or answer in it
    other = await admin.post(f"/api/admin/staff/handovers/{first}/take", json={},
                             headers={"X-CSRF-Token": admin.csrf})  # type: ignore[attr-defined]
    assert other.status == 403 and "already taken" in (await other.json())["error"]
    queue = await (await admin.get("/api/admin/staff/queue")).json()
    assert queue["handovers"][0]["state"] == "taken" and queue["handovers"][0]["agent"] == "staff1"
    not_taken = await staff.post(f"/api/admin/staff/handovers/{second}/reply", json={"text": "您好"},
                                 headers={"X-CSRF-Token": staff.csrf})  # type: ignore[attr-defined]
    assert not_taken.status == 403

    # the reply reaches Alice's open chat at once, as from a person
    hello = "您好，请问有什么可以帮您？"
    sent = await staff.post(f"/api/admin/staff/handovers/{first}/reply", json={"text": hello},
                            headers={"X-CSRF-Token": staff.csrf})  # type: ignore[attr-defined]
    assert sent.status == 200 and (await sent.json())["delivered"] is True
    line = await next_frame(alice, "staff", timeout=1.0)
    assert line["from"] == label and line["text"] == hello and line["after_key"] == "key-0000"

    # Alice's messages go to the ticket, not the bot; staff see them
    reply = await say(alice, "key-0001", "我想问居住证，身份证11010519491231002X")
    assert reply["reply"]["mode"] == "paused" and reply["reply"]["handoff"] is True
    assert reply["reply"]["queue"] == {"state": "taken", "ticket": first, "agent": label}
    # over the HTTP fallback (no socket to push to) the answer says where Bob is
    fallback = await admin_client.post("/api/webchat/message", json={"session": f"web:{BOB}", "text": "在吗"},
                                       headers={"Idempotency-Key": "key-bob-0001"})
    assert (await fallback.json())["queue"] == {"state": "waiting", "ticket": second, "position": 1}
    ticket = await (await staff.get(f"/api/admin/staff/handovers/{first}")).json()
    assert [line["role"] for line in ticket["transcript"]] == ["citizen", "staff", "citizen"]
    assert "11010519491231002X" not in str(ticket) and ticket["taken"]["user_name"] == "staff1"

    # the chat's history keeps the person's reply, after the turn it followed
    history = await (await admin_client.get(f"/api/webchat/history?session={ALICE}")).json()
    assert [(s["from"], s["after_key"]) for s in history["staff"]] == [(label, "key-0000")]
    assert history["queue"]["state"] == "taken"

    # given back: the bot answers Alice again; the ticket is closed
    back = await staff.post(f"/api/admin/staff/handovers/{first}/release", json={},
                            headers={"X-CSRF-Token": staff.csrf})  # type: ignore[attr-defined]
    assert back.status == 200
    assert (await next_frame(alice, "queue")) == {"type": "queue", "state": "released"}
    assert (await say(alice, "key-0002", "谢谢"))["reply"]["messages"][0]["text"] == "echo:谢谢"
    ticket = await (await staff.get(f"/api/admin/staff/handovers/{first}")).json()
    assert ticket["status"] == "closed"
    again = await staff.post(f"/api/admin/staff/handovers/{first}/reply", json={"text": "还在吗"},
                             headers={"X-CSRF-Token": staff.csrf})  # type: ignore[attr-defined]
    assert again.status == 400

    rows = await asyncio.to_thread(admin_client.app[AUDIT].query, "", "", first)
    assert sorted((r.action, r.actor, r.role) for r in rows) == [
        ("staff.handover.release", "staff1", "staff"), ("staff.handover.reply", "staff1", "staff"),
        ("staff.handover.take", "staff1", "staff")]
    await alice.close()
    await bob.close()


async def test_the_page_works_as_plain_forms(admin_client: TestClient, signed_in: SignedIn) -> None:
    staff = await signed_in("staff1")
    ticket = await asyncio.to_thread(hand_over, admin_client, ALICE, "转人工")
    page = await staff.get(f"/staff/handovers/{ticket}")
    html = await page.text()
    assert page.status == 200 and "接入 Take" in html and "回复市民" not in html
    csrf = staff.csrf  # type: ignore[attr-defined]
    taken = await staff.post(f"/staff/handovers/{ticket}/take", data={"csrf": csrf}, allow_redirects=False)
    assert taken.status == 303 and taken.headers["Location"] == f"/staff/handovers/{ticket}"
    html = await (await staff.get(f"/staff/handovers/{ticket}")).text()
    assert "回复市民 Reply to the citizen" in html and "staff1" in html
    empty = await staff.post(f"/staff/handovers/{ticket}/reply", data={"csrf": csrf, "text": "  "},
                             allow_redirects=False)
    assert empty.status == 400 and "the reply is empty" in await empty.text()
    sent = await staff.post(f"/staff/handovers/{ticket}/reply", data={"csrf": csrf, "text": "马上为您查询"},
                            allow_redirects=False)
    assert sent.status == 303
    html = await (await staff.get(f"/staff/handovers/{ticket}")).text()
    assert "马上为您查询" in html
    released = await staff.post(f"/staff/handovers/{ticket}/release", data={"csrf": csrf},
                                allow_redirects=False)
    assert released.status == 303 and released.headers["Location"] == "/staff"
    assert admin_client.app[CONVERSATIONS].paused_ticket(f"web:{ALICE}") is None


class Recording(Connector):
    """A messaging app (Telegram, WeChat) that records what it was asked to push."""

    name = "fake"
    capabilities = Capabilities()

    def __init__(self) -> None:
        super().__init__(chat=None)  # type: ignore[arg-type]  # never runs a turn here
        self.sent: list[tuple[str, str]] = []

    async def send(self, user: str, text: str) -> None:
        self.sent.append((user, text))


async def test_a_messaging_app_citizen_is_told_and_answered_by_text(admin_client: TestClient,
                                                                   signed_in: SignedIn) -> None:
    fake = Recording()
    admin_client.app[CHANNELS].add(fake)
    staff = await signed_in("staff1")
    csrf = {"X-CSRF-Token": staff.csrf}  # type: ignore[attr-defined]
    ticket = await asyncio.to_thread(lambda: admin_client.app[CONVERSATIONS].handover(
        "fake:u1", "转人工", [{"role": "citizen", "text": "转人工"}]).id)

    async def told(part: str) -> None:
        admin_client.app[DESK].wake()
        for _ in range(50):
            if any(part in text for _user, text in fake.sent):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"never told {part!r}: {fake.sent}")

    await told("排在第 1 位")
    label = (await (await staff.post(f"/api/admin/staff/handovers/{ticket}/take", json={}, headers=csrf)
                    ).json())["label"]
    await told(f"{label} 正在为您服务")
    sent = await staff.post(f"/api/admin/staff/handovers/{ticket}/reply", json={"text": "请讲"}, headers=csrf)
    assert (await sent.json())["delivered"] is True
    assert ("u1", f"【{label}】请讲") in fake.sent
    await staff.post(f"/api/admin/staff/handovers/{ticket}/release", json={}, headers=csrf)
    await told("人工服务已结束")
    assert [text for _user, text in fake.sent].count(f"{label} 正在为您服务。") == 1  # once, not every tick


def test_a_tapped_button_reads_as_what_it_meant() -> None:
    from app.staff_console import shown

    assert shown("/request_human") == "〔按钮 button: 转人工 asked for a person〕"
    assert shown('/ask_guide{"aspect":"fees"}') == "〔按钮 button: ask_guide〕"
    assert shown("我要找人工") == "我要找人工"
