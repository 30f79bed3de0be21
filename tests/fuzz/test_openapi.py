"""The OpenAPI document names every route of the real router, and nothing else; it is a valid OpenAPI 3.1
document; the app serves it at /api/openapi.json.  The channels are configured here so that their routes
(registered only when set) are in the router too."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from app.factory import create_app
from app.openapi import OPENAPI_PATH, OPERATIONS, document
from core.settings import Settings
from tests.app.fakes import FakeEngine, FakeRetriever


def router_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route; a static directory is its prefix + /{filename}; HEAD, which
    aiohttp adds beside each GET, is left out (the document says so)."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method == "HEAD":
            continue
        if "directory" in info:
            found.add((route.method, info["prefix"] + "/{filename}"))
        else:
            found.add((route.method, info.get("path") or info.get("formatter") or ""))
    return found


def every_channel(settings: Settings) -> Settings:
    return dataclasses.replace(settings, telegram_token="123:fuzz", telegram_webhook_secret="s",
                               wechat_token="fuzz")


def test_the_document_names_exactly_the_routes_of_the_router(settings: Settings) -> None:
    app = create_app(every_channel(settings), engine=FakeEngine(), retriever=FakeRetriever())
    routes = router_routes(app)
    assert len(routes) >= 80
    documented = set(OPERATIONS)
    assert sorted(routes - documented) == [], "routes missing from app/openapi.py OPERATIONS"
    assert sorted(documented - routes) == [], "app/openapi.py names routes the router does not have"
    heads = {(r.resource.get_info().get("path") or r.resource.get_info().get("formatter"))
             for r in app.router.routes() if r.method == "HEAD" and "directory" not in r.resource.get_info()}
    assert heads and all(("GET", path) in documented for path in heads), "a HEAD route without its GET"


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    validate(spec)  # openapi-spec-validator: the 3.1 meta-schema and the references
    assert spec["openapi"].startswith("3.1")
    ops = [op for item in spec["paths"].values() for op in item.values()]
    assert len(ops) == len(OPERATIONS)
    assert len({op["operationId"] for op in ops}) == len(ops)
    schemes = spec["components"]["securitySchemes"]
    assert {"session", "csrf", "apiToken"} <= set(schemes)
    # the catalog record is archive/catalog_schema.json itself
    assert spec["components"]["schemas"]["catalog_record"]["$id"].endswith("catalog-record/1.json")
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method.lower()]
        assert "400" in operation["responses"], (method, path)
        if path.startswith("/api/admin") and method != "GET":
            assert operation["security"] == [{"session": ["staff"], "csrf": []}] or \
                operation["security"][0].get("csrf") == [], (method, path)
        if path.startswith("/api/hotline"):
            assert operation["security"] == [{"apiToken": ["hotline"]}], path
        if path.startswith(("/admin", "/api/admin")) and (method, path) not in (
                ("GET", "/admin/sign-in"), ("POST", "/admin/sign-in"), ("GET", "/admin/static/{filename}")):
            assert operation["security"] and "session" in operation["security"][0], (method, path)


async def test_the_app_serves_the_document_publicly(aiohttp_client: Any, settings: Settings) -> None:
    client: TestClient = await aiohttp_client(create_app(settings, engine=FakeEngine(),
                                                         retriever=FakeRetriever()))
    response = await client.get(OPENAPI_PATH)
    assert response.status == 200
    assert response.content_type == "application/json"
    served = await response.json()
    assert served == document()
