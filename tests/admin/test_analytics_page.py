"""/admin/analytics and its CSV over the real app (factory, web connector, history, conversations store):
turns sent through the web chat's HTTP transport, thumbs through its feedback route, a hand-over and the
bot's fallback log rows through the app's own conversations store."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from app.keys import AUDIT, CONVERSATIONS, SETTINGS
from tests.admin.conftest import SignedIn


async def chat(client: TestClient, user: str, text: str) -> str:
    key = uuid.uuid4().hex
    response = await client.post("/api/webchat/message", json={"session": f"web:{user}", "text": text},
                                 headers={"Idempotency-Key": key})
    assert response.status == 200, await response.text()
    return key


async def thumbs(client: TestClient, user: str, key: str, value: str) -> None:
    response = await client.post("/api/webchat/feedback", json={"session": user, "key": key, "value": value})
    assert response.status == 200, await response.text()


async def seed(client: TestClient) -> None:
    """Three web conversations, four messages, one hand-over, 👍 and 👎, one unanswered message (a phone)."""
    k1 = await chat(client, "anna", "居住证怎么办")
    await thumbs(client, "anna", k1, "up")
    k2 = await chat(client, "ben", "社保卡怎么补")
    await thumbs(client, "ben", k2, "down")
    await chat(client, "cai", "我的电话13812345678打不通")
    await chat(client, "cai", "转人工")
    conversations = client.app[CONVERSATIONS]
    conversations.log("fallback", "web:cai", "我的电话13812345678打不通", {"answered": False})
    conversations.handover("web:cai", "转人工", [])


def turns_of(client: TestClient) -> list[tuple[Any, ...]]:
    """The history rows the report counts (session, channel, created_at, mode), for a failure message."""
    db = sqlite3.connect(client.app[SETTINGS].paths.app_db)
    try:
        return db.execute("SELECT session, channel, created_at, json_extract(reply, '$.mode')"
                          " FROM history_turns ORDER BY session, seq").fetchall()
    finally:
        db.close()


def summary_of(html: str) -> dict[str, str]:
    table = html.split('id="cap-summary"', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', table))


async def test_the_page_shows_the_numbers_of_the_conversations_held(admin_client: TestClient,
                                                                     signed_in: SignedIn) -> None:
    await seed(admin_client)
    editor = await signed_in("editor1")
    response = await editor.get("/admin/analytics")
    assert response.status == 200
    html = await response.text()
    numbers = summary_of(html)
    assert numbers["会话 Conversations"] == "3"
    assert numbers["消息 Messages"] == "4"
    assert numbers["转人工 Hand-overs"] == "1"
    assert numbers["自助解决率 Containment"] == "66.7%"
    assert numbers["转人工率 Hand-over rate"] == "33.3%"
    assert numbers["未理解 Fallbacks"] == "1" and numbers["未答复 Unanswered"] == "1"
    assert (numbers["有帮助 👍 Helpful"], numbers["没帮助 👎 Not helpful"]) == ("1", "1")
    assert numbers["满意度 Satisfaction"] == "50.0%"
    # the echo engine answers every message with the intent "greet"
    assert re.search(r'<th scope="row">greet</th><td class="num">4</td>', html)
    # only masked text, charts that are images with a name, no inline script or style (the CSP forbids them)
    assert "13812345678" not in html and "我的电话〔手机号〕打不通" in html
    assert html.count('role="img"') == 4 and html.count("<title id=") == 4
    assert "<script" not in html and " style=" not in html
    assert len(html.encode("utf-8")) < 150_000
    for name in ("summary", "daily", "weekly", "channels", "intents", "services", "unanswered", "documents"):
        assert f"/admin/analytics.csv?table={name}&amp;from=" in html


async def test_the_channel_filter_and_a_bad_filter(admin_client: TestClient, signed_in: SignedIn) -> None:
    await seed(admin_client)
    reviewer = await signed_in("reviewer1")
    html = await (await reviewer.get("/admin/analytics?channel=telegram")).text()
    assert summary_of(html)["会话 Conversations"] == "0"
    assert '<option value="telegram" selected>' in html
    bad = await reviewer.get("/admin/analytics?from=2026-02-30")
    assert bad.status == 400
    text = await bad.text()
    assert "&#39;from&#39; must be a date" in text and 'role="alert"' in text
    assert 'value="2026-02-30"' in text  # the form keeps what was typed


async def test_each_table_exports_as_csv_for_excel_and_the_export_is_audited(
        admin_client: TestClient, signed_in: SignedIn) -> None:
    await seed(admin_client)
    editor = await signed_in("editor1")
    response = await editor.get("/admin/analytics.csv?table=channels")
    assert response.status == 200
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert re.match(r'attachment; filename="analytics-channels-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv"',
                    response.headers["Content-Disposition"])
    body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Chinese headers
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["渠道 Channel", "会话 Conversations", "消息 Messages"]
    assert rows[0][4] == "自助解决率 Containment (%)"
    web: dict[str, Any] = dict(zip(rows[0], next(r for r in rows if r[0] == "web"), strict=True))
    assert (web["会话 Conversations"], web["自助解决率 Containment (%)"], web["满意度 Satisfaction (%)"]) == (
        "3", "66.7", "50.0"), turns_of(admin_client)  # once 4 in CI, unexplained: the rows say why next time
    unanswered = list(csv.reader(io.StringIO(
        (await (await editor.get("/admin/analytics.csv?table=unanswered")).read()).decode("utf-8-sig"))))
    assert unanswered[1][:2] == ["我的电话〔手机号〕打不通", "1"]
    rows_logged = admin_client.app[AUDIT].query(action="analytics_export")
    assert [(r.actor, r.target) for r in rows_logged] == [("editor1", "unanswered"), ("editor1", "channels")]
    assert (await editor.get("/admin/analytics.csv?table=secrets")).status == 400
    assert (await editor.get("/admin/analytics.csv?table=daily&channel=fax")).status == 400


async def test_staff_may_not_see_analytics(admin_client: TestClient, signed_in: SignedIn) -> None:
    staff = await signed_in("staff1")
    assert (await staff.get("/admin/analytics")).status == 403
    assert (await staff.get("/admin/analytics.csv?table=daily")).status == 403
    admin = await signed_in("admin1")
    assert (await admin.get("/admin/analytics")).status == 200


async def test_a_long_range_charts_weeks_and_stays_small(admin_client: TestClient,
                                                         signed_in: SignedIn) -> None:
    await seed(admin_client)
    editor = await signed_in("editor1")
    html = await (await editor.get("/admin/analytics?from=2025-12-01&to=2026-11-30")).text()
    assert "每周会话与消息 Conversations and messages per week" in html
    assert "per day</title>" not in html
    assert html.count("<tr><th scope=\"row\">20") >= 365  # every day is still in the (folded) table
    assert len(html.encode("utf-8")) < 250_000
