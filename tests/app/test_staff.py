"""The staff API: open hand-over tickets with transcripts, releasing a paused session; the staff token.

App level with a fake engine (the real engine round trip is in test_staff_engine.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.conversations import Conversations
from app.factory import create_app
from app.keys import CONVERSATIONS
from core.settings import Settings, load_settings
from tests.app.fakes import FakeEngine, FakeRetriever

AiohttpClient = Any


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings, engine=FakeEngine(), retriever=FakeRetriever()))


def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.staff_token}"}


def conversations(client: TestClient) -> Conversations:
    return client.app[CONVERSATIONS]


def test_a_staff_token_is_generated_into_secrets_once_and_env_overrides_it(
    home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_settings(home)
    assert len(first.staff_token) >= 24 and first.staff_token != first.engine_token
    # hex: a token beginning with "-" made `rasa run --auth-token <token>` fail to parse its arguments
    assert set(first.engine_token + first.staff_token) <= set("0123456789abcdef")
    assert load_settings(home).staff_token == first.staff_token  # kept in <home>/secrets.toml
    assert f'staff_token = "{first.staff_token}"' in (home / "secrets.toml").read_text(encoding="utf-8")
    monkeypatch.setenv("CIVIC_STAFF_TOKEN", "from-the-environment")
    assert load_settings(home).staff_token == "from-the-environment"


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": "Basic c3RhZmY6c3RhZmY="},
    {"Authorization": "Bearer "},
])
async def test_every_staff_route_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    conversations(client).handover("web:abc", "转人工", [])
    for method, path, body in [("GET", "/api/staff/handovers", None),
                               ("GET", "/api/staff/handovers/H000", None),
                               ("GET", "/api/staff/tickets/H000/contact", None),
                               ("POST", "/api/staff/release", {"session": "web:abc"})]:
        resp = await client.request(method, path, json=body, headers=headers)
        assert resp.status == 401, (method, path)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert "staff token" in (await resp.json())["error"]
    assert conversations(client).paused_ticket("web:abc") is not None  # nothing was released


async def test_no_configured_token_means_no_staff_api(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    app = create_app(settings.with_overrides(staff_token=""), engine=FakeEngine(), retriever=FakeRetriever())
    client = await aiohttp_client(app)
    resp = await client.get("/api/staff/handovers", headers={"Authorization": "Bearer "})
    assert resp.status == 401


async def test_open_handovers_are_listed_with_their_transcripts(
    client: TestClient, settings: Settings
) -> None:
    store = conversations(client)
    before = [{"role": "citizen", "text": "居住证怎么办"}, {"role": "bot", "text": "……"},
              {"role": "citizen", "text": "转人工"}]
    ticket = store.handover("web:a", "转人工", before)
    store.append_transcript(ticket.id, "citizen", "请尽快联系我")
    store.open_ticket("complaint", "web:b", "窗口态度差")  # not a hand-over
    released = store.handover("web:c", "人工", [])
    store.release("web:c")  # closed: no longer waiting

    resp = await client.get("/api/staff/handovers", headers=auth(settings))
    assert resp.status == 200
    tickets = (await resp.json())["tickets"]
    assert [t["id"] for t in tickets] == [ticket.id]
    assert tickets[0]["session"] == "web:a" and tickets[0]["paused"] is True
    assert tickets[0]["status"] == "open"
    assert [m["text"] for m in tickets[0]["transcript"]] == ["居住证怎么办", "……", "转人工", "请尽快联系我"]

    one = await client.get(f"/api/staff/handovers/{released.id}", headers=auth(settings))
    assert one.status == 200
    body = await one.json()
    assert body["status"] == "closed" and body["paused"] is False


@pytest.mark.parametrize("limit", ["0", "abc", "-1", "501", "1.5"])
async def test_a_bad_limit_is_a_400(client: TestClient, settings: Settings, limit: str) -> None:
    resp = await client.get(f"/api/staff/handovers?limit={limit}", headers=auth(settings))
    assert resp.status == 400
    assert "limit" in (await resp.json())["error"]


async def test_unknown_ticket_is_a_404(client: TestClient, settings: Settings) -> None:
    complaint = conversations(client).open_ticket("complaint", "web:b", "窗口态度差")
    for ticket_id in ("H202601010001", complaint.id):
        resp = await client.get(f"/api/staff/handovers/{ticket_id}", headers=auth(settings))
        assert resp.status == 404, ticket_id


async def test_release_by_session_gives_the_conversation_back_to_the_bot(
    client: TestClient, settings: Settings
) -> None:
    ticket = conversations(client).handover("web:a", "转人工", [])
    paused = await client.post("/api/chat", json={"session": "web:a", "text": "还在吗"})
    assert (await paused.json())["handoff"] is True

    resp = await client.post("/api/staff/release", json={"session": "web:a"}, headers=auth(settings))
    assert resp.status == 200
    assert await resp.json() == {"session": "web:a", "ticket": ticket.id, "released": True}
    assert conversations(client).get_ticket(ticket.id).status == "closed"
    again = await (await client.post("/api/chat", json={"session": "web:a", "text": "你好"})).json()
    assert again["handoff"] is False and again["messages"][0]["text"] == "echo:你好"  # the engine answered

    twice = await client.post("/api/staff/release", json={"session": "web:a"}, headers=auth(settings))
    assert twice.status == 404


async def test_release_by_ticket(client: TestClient, settings: Settings) -> None:
    ticket = conversations(client).handover("web:a", "转人工", [])
    resp = await client.post("/api/staff/release", json={"ticket": ticket.id}, headers=auth(settings))
    assert resp.status == 200 and (await resp.json())["session"] == "web:a"
    assert conversations(client).paused_ticket("web:a") is None


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400),
    (b"[1, 2]", 400),
    (b"{}", 400),
    (b'{"session": "web:a", "ticket": "H1"}', 400),
    (b'{"session": ""}', 400),
    (b'{"session": 42}', 400),
    (b'{"session": "' + b"x" * 200 + b'"}', 400),
    (b'{"session": "web:never-seen"}', 404),
    (b'{"ticket": "H209901010001"}', 404),
])
async def test_release_rejects_bad_input_and_unknown_sessions(
    client: TestClient, settings: Settings, body: bytes, status: int
) -> None:
    resp = await client.post("/api/staff/release", data=body,
                             headers={**auth(settings), "Content-Type": "application/json"})
    assert resp.status == status
    assert (await resp.json())["error"]


async def test_a_contact_given_in_a_complaint_is_kept_apart_encrypted_and_shown_to_staff(
    aiohttp_client: AiohttpClient, settings: Settings, home: Any
) -> None:
    """The message reaches the engine, the tickets and app.db masked; staff get the numbers back."""
    engine = FakeEngine()
    client = await aiohttp_client(create_app(settings, engine=engine, retriever=FakeRetriever()))
    text = "我的身份证号110105199003071239，手机13812345678，想投诉窗口态度差"
    assert (await client.post("/api/chat", json={"session": "web:c1", "text": text})).status == 200
    masked = "我的身份证号〔身份证号〕，手机〔手机号〕，想投诉窗口态度差"
    assert engine.turns == [("web:c1", masked)]
    ticket = conversations(client).open_ticket("complaint", "web:c1", text)  # as action_record_ticket does
    assert ticket.text == masked
    contact = await client.get(f"/api/staff/tickets/{ticket.id}/contact", headers=auth(settings))
    assert contact.status == 200
    values = {(c["kind"], c["value"]) for c in (await contact.json())["contacts"]}
    assert values == {("id_card", "110105199003071239"), ("mobile", "13812345678")}
    raw = b"".join(p.read_bytes() for p in home.glob("app.db*"))
    assert b"13812345678" not in raw and b"110105199003071239" not in raw


async def test_a_scoped_staff_token_opens_the_staff_api_until_revoked(client: TestClient) -> None:
    from app.keys import ACCOUNTS

    accounts = client.app[ACCOUNTS]
    staff_token = accounts.add_token("desk-7", "staff")
    hotline_token = accounts.add_token("asr", "hotline")
    ok = await client.get("/api/staff/handovers", headers={"Authorization": f"Bearer {staff_token}"})
    assert ok.status == 200
    wrong_scope = await client.get("/api/staff/handovers",
                                   headers={"Authorization": f"Bearer {hotline_token}"})
    assert wrong_scope.status == 401
    accounts.revoke_token("desk-7")
    revoked = await client.get("/api/staff/handovers", headers={"Authorization": f"Bearer {staff_token}"})
    assert revoked.status == 401
