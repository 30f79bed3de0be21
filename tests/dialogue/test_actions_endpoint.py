"""POST /webhook: the app runs the bot's actions for the engine (rasa-sdk executor, in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from app.factory import create_app
from app.keys import CHAT, CONVERSATIONS
from archive.demo import seed_demo
from archive.store import Archive
from bot.texts import load_domain
from core.settings import REPO_ROOT, Settings
from tests.app.fakes import FakeEngine, FakeRetriever


def action_call(
    action: str, text: str, entities: list[dict[str, Any]], slots: dict[str, Any]
) -> dict[str, Any]:
    latest = {"text": text, "intent": {"name": "ask_guide", "confidence": 0.9}, "entities": entities}
    return {
        "next_action": action,
        "sender_id": "web-1",
        "version": "3.6.21",
        "domain": load_domain(REPO_ROOT / "domain"),
        "tracker": {
            "sender_id": "web-1", "slots": slots, "latest_message": latest,
            "events": [{"event": "user", "text": text, "parse_data": latest}], "paused": False,
            "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
        },
    }


async def client_for(settings: Settings, tmp_path: Path, aiohttp_client: Any) -> TestClient:
    archive = Archive(tmp_path / "archive.db")
    seed_demo(archive)
    app = create_app(settings, engine=FakeEngine(), archive=archive, retriever=FakeRetriever())
    return await aiohttp_client(app)


async def test_webhook_runs_an_action_and_returns_events_and_responses(
    settings: Settings, tmp_path: Path, aiohttp_client: Any
) -> None:
    client = await client_for(settings, tmp_path, aiohttp_client)
    call = action_call("action_answer_guide", "结婚登记多少钱",
                       [{"entity": "item", "value": "结婚登记"}, {"entity": "aspect", "value": "fees"}],
                       {"language": "zh"})
    resp = await client.post("/webhook", json=call)
    assert resp.status == 200
    body = await resp.json()
    assert body["responses"][0]["response"] == "utter_guide_fees"
    assert body["responses"][0]["custom"]["citations"][0]["id"] == "SF-G-001"
    assert {"event": "slot", "name": "item", "value": "结婚登记"}.items() <= body["events"][0].items()
    # the ChatService was wired to the same app.db at start-up
    assert client.app[CHAT].conversations is client.app[CONVERSATIONS]


async def test_webhook_refuses_forwarded_requests_and_unknown_actions(
    settings: Settings, tmp_path: Path, aiohttp_client: Any
) -> None:
    client = await client_for(settings, tmp_path, aiohttp_client)
    call = action_call("action_answer_guide", "你好", [], {})
    forwarded = await client.post("/webhook", json=call, headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status == 403
    with_token = await client.post(f"/webhook?token={settings.engine_token}", json=call,
                                   headers={"X-Forwarded-For": "203.0.113.9"})
    assert with_token.status == 200
    unknown = await client.post("/webhook", json=action_call("action_nope", "你好", [], {}))
    assert unknown.status == 404
    broken = await client.post("/webhook", data=b"not json")
    assert broken.status == 400


async def test_an_action_call_without_the_domain_gets_the_apps(
    settings: Settings, tmp_path: Path, aiohttp_client: Any
) -> None:
    """The engine sends no domain (enable_selective_domain): labels and the form's slots come from the
    domain the app read at start-up."""
    client = await client_for(settings, tmp_path, aiohttp_client)
    call = action_call("action_answer_guide", "结婚登记多少钱",
                       [{"entity": "item", "value": "结婚登记"}, {"entity": "aspect", "value": "fees"}], {})
    del call["domain"]
    body = await (await client.post("/webhook", json=call)).json()
    titles = [b["title"] for b in body["responses"][0]["buttons"]]
    assert "所需材料" in titles  # a label from domain/responses_guide.yml
    form = action_call("validate_status_form", "HD202610120003", [], {"requested_slot": "app_no"})
    del form["domain"]
    form["tracker"]["active_loop"] = {"name": "status_form"}
    form["tracker"]["events"].append({"event": "slot", "name": "app_no", "value": "HD202610120003"})
    form["tracker"]["slots"]["app_no"] = "HD202610120003"
    validated = await (await client.post("/webhook", json=form)).json()
    slot = {"event": "slot", "name": "app_no", "value": "HD202610120003"}
    assert slot.items() <= validated["events"][0].items()
