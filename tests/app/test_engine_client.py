"""RasaClient against a small HTTP server speaking the engine's protocol (the real engine is exercised
in tests/serve/test_stack.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from app.engine_client import RasaClient
from core.errors import EngineUnavailable

AiohttpServer = Any


seen: list[dict[str, Any]] = []


def fake_rasa(token: str = "t0k") -> web.Application:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        if body["message"] == "slow":
            await asyncio.sleep(2)
        if body["message"] == "broken":
            return web.Response(text="<html>oops</html>", status=500)
        if body["message"] == "rest-shaped":  # the REST channel's answer is not a turn
            return web.json_response([{"recipient_id": body["sender"], "text": "hi"}])
        seen.append(body)
        return web.json_response({
            "messages": [{"recipient_id": body["sender"], "text": "回" + body["message"]}],
            "intent": {"name": body.get("intent") or "greet", "confidence": 0.87654},
            "events": 12, "form": {"name": "status_form", "requested_slot": "phone_last4"}})

    def authorised(request: web.Request) -> None:
        if request.query.get("token") != token:
            raise web.HTTPUnauthorized()

    async def status(request: web.Request) -> web.Response:
        authorised(request)
        return web.json_response({"model_file": "m.tar.gz", "model_id": "x", "num_active_training_jobs": 0})

    async def parse(request: web.Request) -> web.Response:
        authorised(request)
        text = (await request.json())["text"]
        return web.json_response({"text": text, "intent": {"name": "greet", "confidence": 0.9}})

    app = web.Application()
    app.router.add_post("/webhooks/civic/webhook", webhook)
    app.router.add_get("/status", status)
    app.router.add_post("/model/parse", parse)
    return app


async def test_send_parse_and_health(aiohttp_server: AiohttpServer) -> None:
    server = await aiohttp_server(fake_rasa())
    async with RasaClient(str(server.make_url("/")), "t0k", timeout=5) as engine:
        turn = await engine.send("s1", "你好", {"language": "en", "channel": "web"})
        assert turn.messages == [{"recipient_id": "s1", "text": "回你好"}]
        assert (turn.intent, turn.events) == ({"name": "greet", "confidence": 0.87654}, 12)
        assert (turn.form, turn.requested_slot) == ("status_form", "phone_last4")
        assert seen[-1]["metadata"] == {"language": "en", "channel": "web"} and "intent" not in seen[-1]
        stand_in = await engine.send("s1", "****", {}, "inform")
        assert seen[-1]["intent"] == "inform" and stand_in.intent["name"] == "inform"
        assert (await engine.parse("你好"))["intent"]["name"] == "greet"
        health = await engine.health()
        assert health.healthy and health.model == "m.tar.gz"


async def test_wrong_token_is_unavailable(aiohttp_server: AiohttpServer) -> None:
    server = await aiohttp_server(fake_rasa())
    async with RasaClient(str(server.make_url("/")), "wrong", timeout=5) as engine:
        with pytest.raises(EngineUnavailable, match="refused the token"):
            await engine.parse("你好")
        health = await engine.health()
        assert not health.reachable and "token" in health.error


async def test_engine_errors_and_timeouts_raise(aiohttp_server: AiohttpServer) -> None:
    server = await aiohttp_server(fake_rasa())
    async with RasaClient(str(server.make_url("/")), "t0k", timeout=0.5) as engine:
        with pytest.raises(EngineUnavailable, match="500"):
            await engine.send("s1", "broken")
        with pytest.raises(EngineUnavailable, match="not answering"):
            await engine.send("s1", "slow")
        with pytest.raises(EngineUnavailable, match="not a turn"):
            await engine.send("s1", "rest-shaped")


async def test_nobody_listening(unused_tcp_port: int) -> None:
    async with RasaClient(f"http://127.0.0.1:{unused_tcp_port}", "t0k", timeout=2) as engine:
        with pytest.raises(EngineUnavailable, match="not answering"):
            await engine.send("s1", "你好")
        assert (await engine.health()).reachable is False
