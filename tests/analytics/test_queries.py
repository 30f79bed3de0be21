"""The analytics queries (app/analytics.py) on a real app.db written through the real stores: the chat history
(connectors/history.py) and the conversations store (app/conversations.py: tickets, the curation log).

The clock of both stores is set per event, so the turns fall on known local days (Asia/Shanghai) — one of
them at 00:30 local time, which is still the previous day in UTC."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import app.analytics as analytics_module
import connectors.history as history_module
from app.analytics import Analytics, Filters, cell_text, channel_of, group_key, to_csv
from app.conversations import Conversations
from connectors.history import History
from core.errors import ConfigError, InvalidInput

TZ = ZoneInfo("Asia/Shanghai")
GUIDE = {"id": "guide-jzz", "title": "示范市居住证办理指南", "doc_no": "", "issuer": "示范市公安局",
         "issued_on": "2023-03-01", "url": "", "status": "published"}
POLICY = {"id": "policy-7", "title": "示范市居住证管理办法", "doc_no": "示政发〔2020〕7号",
          "issuer": "示范市人民政府", "issued_on": "2020-01-01", "url": "", "status": "published"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def at(self, day: str, hhmm: str) -> None:
        """Local time in Asia/Shanghai."""
        moment = datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ)
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now

    def iso(self) -> str:
        return datetime.fromtimestamp(self.now, UTC).isoformat(timespec="seconds")


def reply(intent: str | None, *, card: dict[str, Any] | None = None,
          citations: list[dict[str, Any]] | None = None, mode: str = "dialogue",
          handoff: bool = False) -> dict[str, Any]:
    message = {"text": "…", "buttons": [], "card": card, "citations": citations or []}
    return {"session": "", "messages": [message], "handoff": handoff, "mode": mode,
            "intent": {"name": intent, "confidence": 0.9 if intent else 0.0}}


class World:
    """app.db built the way the app builds it: a connector's history turn, the bot's log rows and tickets."""

    def __init__(self, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = Clock()
        monkeypatch.setattr(history_module, "_now", self.clock.iso)
        self.history = History(path)
        self.conversations = Conversations(path, clock=self.clock)
        self.keys = 0

    def turn(self, session: str, channel: str, text: str, answer: dict[str, Any]) -> str:
        self.keys += 1
        key = f"key-{self.keys:05d}"
        self.history.begin(session, key, text, "", channel)
        self.history.finish(session, key, answer)
        return key

    def close(self) -> None:
        self.history.close()
        self.conversations.close()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path / "app.db", monkeypatch)
    yield w
    w.close()


def build(w: World) -> None:
    c = w.clock
    # Monday 2 Nov: a web conversation of two answers (a guide card; a policy citation), 👍 on the first
    c.at("2026-11-02", "09:00")
    k1 = w.turn("web:alice", "web", "居住证要带什么材料", reply("ask_guide", card={"type": "guide",
                "guide_id": "guide-jzz", "title": "居住证办理"}, citations=[GUIDE]))
    w.history.set_feedback("web:alice", k1, "up")
    c.at("2026-11-02", "09:05")
    w.turn("web:alice", "web", "相关政策", reply("ask_policy", citations=[POLICY, GUIDE]))
    # the same citizen three hours later: a second conversation
    c.at("2026-11-02", "12:10")
    card = {"type": "guide", "guide_id": "guide-jzz", "title": "居住证办理"}
    w.turn("web:alice", "web", "居住证收费吗", reply("ask_guide", card=card, citations=[GUIDE]))
    # Telegram: not understood twice (a phone number in it), then handed over; the next message goes to staff
    c.at("2026-11-02", "20:00")
    w.turn("telegram:42", "telegram", "护照丢了怎么办 13812345678", reply("nlu_fallback"))
    w.conversations.log("fallback", "telegram:42", "护照丢了怎么办 13812345678", {"answered": False})
    c.at("2026-11-02", "20:01")
    w.turn("telegram:42", "telegram", "护照丢了怎么办", reply("nlu_fallback", handoff=True))
    w.conversations.log("fallback", "telegram:42", "护照丢了怎么办", {"answered": False})
    w.conversations.handover("telegram:42", "护照丢了怎么办", [])
    c.at("2026-11-02", "20:03")
    w.turn("telegram:42", "telegram", "还在吗", reply(None, mode="paused", handoff=True))
    # Tuesday 00:30 local (Monday 16:30 UTC): the API, answered from search while the engine trained; 👎
    c.at("2026-11-03", "00:30")
    k2 = w.turn("hotline-7", "api", "居住证在哪办", reply(None, card={"type": "guide", "id": "guide-jzz",
                                                                 "title": "居住证办理"}, citations=[GUIDE],
                                                   mode="search"))
    w.conversations.log("fallback", "hotline-7", "居住证在哪办", {"standby": True, "answered": True,
                                                             "doc_id": "guide-jzz"})
    w.history.set_feedback("hotline-7", k2, "down")
    # Tuesday 10 Nov (the next ISO week): WeChat; an answered fallback, a typed 👍, the passport again
    c.at("2026-11-10", "08:00")
    w.turn("wechat:o-1", "wechat", "谢谢，很有用", reply("feedback_good"))
    w.conversations.log("feedback_good", "wechat:o-1", "谢谢，很有用", {"answer": "…"})
    c.at("2026-11-10", "08:02")
    w.turn("wechat:o-1", "wechat", "护照丢了怎么办？", reply("nlu_fallback"))
    w.conversations.log("fallback", "wechat:o-1", "护照丢了怎么办？", {"answered": False, "score": None})
    c.at("2026-11-10", "08:04")
    w.turn("wechat:o-1", "wechat", "社保卡挂失", reply("nlu_fallback", citations=[POLICY]))
    w.conversations.log("fallback", "wechat:o-1", "社保卡挂失", {"answered": True, "doc_id": "policy-7"})
    # a thumbs the web chat logged for curation too (it has a key): counted once, from the history
    w.conversations.log("feedback_good", "web:alice", "居住证要带什么材料", {"key": k1})
    # outside the range (1 Dec) and the day before it (1 Nov, 23:59 local)
    c.at("2026-11-01", "23:59")
    w.turn("web:bob", "web", "早", reply("greet"))
    c.at("2026-12-01", "09:00")
    w.turn("web:bob", "web", "晚", reply("greet"))


def analytics(w: World) -> Analytics:
    return Analytics(w.conversations.path, "Asia/Shanghai")


RANGE = Filters(date(2026, 11, 2), date(2026, 11, 15))


def test_totals_over_the_range(world: World) -> None:
    build(world)
    total = analytics(world).report(RANGE).total
    # alice x2 (a 3-hour pause), telegram, the API, WeChat; bob's turns are outside the range
    assert total.conversations == 5
    assert total.messages == 10
    assert total.bot_messages == 9  # the paused one went to staff
    assert (total.handovers, total.handed_over, total.contained) == (1, 1, 4)
    assert total.containment == pytest.approx(4 / 5)
    assert total.handover_rate == pytest.approx(1 / 5)
    # fallbacks: telegram x2, WeChat x2 (one answered from search); an answered standby search is not one
    assert (total.fallbacks, total.unanswered) == (4, 3)
    assert total.fallback_rate == pytest.approx(4 / 9)
    # 👍 alice's thumbs and WeChat's typed thanks, 👎 the API's thumbs; the keyed curation row counts once
    assert (total.up, total.down) == (2, 1)
    assert total.satisfaction == pytest.approx(2 / 3)


def test_days_are_local_days_and_weeks_start_on_monday(world: World) -> None:
    build(world)
    report = analytics(world).report(RANGE)
    days = dict(report.days)
    assert len(days) == 14 and min(days) == date(2026, 11, 2) and max(days) == date(2026, 11, 15)
    assert (days[date(2026, 11, 2)].conversations, days[date(2026, 11, 2)].messages) == (3, 6)
    # 00:30 in Shanghai is the previous day in UTC: it counts on the local day
    assert (days[date(2026, 11, 3)].conversations, days[date(2026, 11, 3)].down) == (1, 1)
    assert days[date(2026, 11, 10)].messages == 3 and days[date(2026, 11, 10)].fallbacks == 2
    assert days[date(2026, 11, 4)].messages == 0 and days[date(2026, 11, 4)].containment is None
    weeks = dict(report.weeks)
    assert list(weeks) == [date(2026, 11, 2), date(2026, 11, 9)]
    assert (weeks[date(2026, 11, 2)].conversations, weeks[date(2026, 11, 9)].conversations) == (4, 1)
    assert weeks[date(2026, 11, 2)].handovers == 1
    assert report.tables()["weekly"].rows[0][:2] == ("2026-W45", "2026-11-02")


def test_by_channel_and_the_channel_filter(world: World) -> None:
    build(world)
    a = analytics(world)
    channels = dict(a.report(RANGE).channels)
    assert list(channels) == ["web", "telegram", "wechat", "api"]
    assert (channels["web"].conversations, channels["web"].messages, channels["web"].up) == (2, 3, 1)
    assert (channels["telegram"].handed_over, channels["telegram"].containment) == (1, 0.0)
    assert (channels["api"].messages, channels["api"].fallbacks, channels["api"].down) == (1, 0, 1)
    assert (channels["wechat"].fallbacks, channels["wechat"].up) == (2, 1)
    only = a.report(Filters(RANGE.start, RANGE.end, "telegram"))
    assert (only.total.conversations, only.total.messages, only.total.fallbacks) == (1, 3, 2)
    assert [name for name, _ in only.channels] == ["telegram"]
    assert [i.name for i in only.intents] == ["nlu_fallback"]
    assert only.documents == [] and only.services == []
    assert [g.count for g in only.unanswered] == [2]


def test_top_intents_services_and_documents(world: World) -> None:
    build(world)
    report = analytics(world).report(RANGE)
    intents = {i.name: i for i in report.intents}
    # answers without an intent (the paused turn, the search answer) are not in the list
    assert [i.name for i in report.intents] == ["nlu_fallback", "ask_guide", "ask_policy", "feedback_good"]
    assert intents["nlu_fallback"].messages == 4
    assert intents["ask_guide"].share == pytest.approx(2 / 8)
    assert intents["ask_guide"].confidence == pytest.approx(0.9)
    # the service: three answers with the guide's card (two web, one API); 👍 on one, 👎 on another
    assert [(s.id, s.hits, s.up, s.down) for s in report.services] == [("guide-jzz", 3, 1, 1)]
    assert report.services[0].title == "居住证办理"
    docs = {d.id: d for d in report.documents}
    assert (docs["guide-jzz"].hits, docs["guide-jzz"].up, docs["guide-jzz"].down) == (4, 1, 1)
    assert (docs["policy-7"].hits, docs["policy-7"].up, docs["policy-7"].down) == (2, 0, 0)
    assert docs["guide-jzz"].satisfaction == pytest.approx(0.5) and docs["policy-7"].satisfaction is None
    assert [d.id for d in report.documents] == ["guide-jzz", "policy-7"]


def test_unanswered_messages_are_masked_and_grouped_by_the_curation_inboxs_grouping(world: World) -> None:
    build(world)
    groups = analytics(world).report(RANGE).unanswered
    # no encoder: the inbox's character n-grams put the three wordings of the passport question together
    assert [(g.text, g.count, g.method) for g in groups] == [("护照丢了怎么办", 3, "ngram")]
    assert set(groups[0].examples) == {"护照丢了怎么办", "护照丢了怎么办？", "护照丢了怎么办 〔手机号〕"}
    assert groups[0].channels == ("telegram", "wechat")
    assert groups[0].last == datetime(2026, 11, 10, 8, 2, tzinfo=TZ)
    every_text = repr(analytics(world).report(RANGE).tables())
    assert "13812345678" not in every_text and "〔手机号〕" in every_text


class TopicEncoder:
    """A sentence encoder that knows two topics: passports and social-security cards."""

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return np.array([[1.0, 0.0] if "护照" in t else [0.0, 1.0] for t in texts], dtype=np.float32)

    def unknown_share(self, text: str) -> float:
        return 0.0


def test_with_an_encoder_groups_go_by_meaning_and_rare_wordings_beyond_the_cap_by_wording(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    build(world)
    world.clock.at("2026-11-11", "09:00")
    for text in ("社保卡丢了", "社保卡怎么挂失", "医保报销"):
        world.conversations.log("fallback", "web:dan", text, {"answered": False})
    groups = analytics(world).report(RANGE, TopicEncoder()).unanswered
    assert [(g.count, g.method) for g in groups] == [(3, "encoder"), (3, "encoder")]
    assert {frozenset(g.examples) for g in groups} == {
        frozenset({"护照丢了怎么办", "护照丢了怎么办？", "护照丢了怎么办 〔手机号〕"}),
        frozenset({"社保卡丢了", "社保卡怎么挂失", "医保报销"})}
    monkeypatch.setattr(analytics_module, "MAX_GROUPED", 2)  # only the two most frequent wordings are grouped
    analytics_module._CACHE.clear()  # the same rows: the report above would be served again
    groups = analytics(world).report(RANGE, TopicEncoder()).unanswered
    # the passport question (2, with 「？」) and the newest single wording; the other three by wording alone
    assert (groups[0].text, groups[0].count, groups[0].method) == ("护照丢了怎么办", 2, "encoder")
    assert sorted((g.count, g.method) for g in groups[1:]) == [(1, "encoder")] + [(1, "wording")] * 3
    assert analytics(world).report(RANGE).tables()["unanswered"].rows[0][-1] == "字词 characters"


def test_every_table_has_its_columns_in_each_row(world: World) -> None:
    build(world)
    tables = analytics(world).report(RANGE).tables()
    assert set(tables) == {"summary", "daily", "weekly", "channels", "intents", "services", "unanswered",
                           "documents"}
    for table in tables.values():
        assert all(len(row) == len(table.columns) for row in table.rows), table.name
    summary = dict(zip([c.key for c in tables["summary"].columns], tables["summary"].rows[0], strict=True))
    assert summary["conversations"] == 5 and summary["satisfaction"] == pytest.approx(2 / 3)
    assert len(tables["daily"].rows) == 14


def test_an_empty_app_db_and_a_missing_one(world: World, tmp_path: Path) -> None:
    report = analytics(world).report(RANGE)
    assert report.total.conversations == 0 and report.total.containment is None
    assert report.intents == [] and report.unanswered == []
    with pytest.raises(ConfigError):
        Analytics(tmp_path / "nothing" / "app.db").report(RANGE)


def test_the_filter_parses_the_form_and_names_what_is_wrong() -> None:
    today = date(2026, 12, 1)
    assert Filters.parse({}, today) == Filters(date(2026, 11, 2), today, "")
    assert Filters.parse({"from": "2026-11-01", "to": "2026-11-07", "channel": "wechat"}, today) == Filters(
        date(2026, 11, 1), date(2026, 11, 7), "wechat")
    for query, word in (({"from": "yesterday"}, "'from'"), ({"to": "2026-13-01"}, "'to'"),
                        ({"channel": "fax"}, "'channel'"), ({"from": "2026-12-02"}, "after"),
                        ({"from": "2020-01-01"}, "longer")):
        with pytest.raises(InvalidInput, match=word):
            Filters.parse(query, today)


def test_channel_rule_group_key_and_time_zone() -> None:
    assert channel_of("telegram", "telegram:1") == "telegram"
    assert channel_of("", "wechat:o-1") == "wechat"
    assert channel_of("", "s1") == "api" and channel_of("", "foo:bar") == "api"
    assert group_key("护照 丢了，怎么办？") == group_key("护照丢了怎么办") != group_key("护照丢了")
    assert group_key("Lost PASSPORT!") == group_key("lost passport")
    with pytest.raises(ConfigError, match="time_zone"):
        Analytics(Path("app.db"), "Mars/Olympus")


def test_csv_for_excel_quotes_formulas_and_writes_percent_numbers(world: World) -> None:
    build(world)
    world.turn("web:eve", "web", "=HYPERLINK(\"http://x\")", reply(None))
    world.conversations.log("fallback", "web:eve", "=HYPERLINK(\"http://x\")", {"answered": False})
    report = analytics(world).report(Filters(RANGE.start, date(2026, 12, 1)))
    body = to_csv(report.tables()["unanswered"])
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["问题 Message", "次数 Count"]
    assert next(r for r in rows if "HYPERLINK" in r[0])[:2] == ["'=HYPERLINK(\"http://x\")", "1"]
    assert b"\r\n" in body  # Excel's row ends
    summary = list(csv.reader(io.StringIO(to_csv(report.tables()["summary"]).decode("utf-8-sig"))))
    cells = dict(zip(summary[0], summary[1], strict=True))
    assert cells["自助解决率 Containment (%)"] == "85.7" and cells["会话 Conversations"] == "7"  # 6 of 7
    assert cell_text(None, "percent") == "" and cell_text(0.5, "number") == "0.500"
    assert cell_text("-5", "int") == "-5" and cell_text("-5", "text") == "'-5"


def test_a_report_is_reused_while_app_db_holds_the_same_rows(world: World) -> None:
    build(world)
    a = analytics(world)
    first = a.report(RANGE)
    assert a.report(RANGE) is first and analytics(world).report(RANGE) is first
    assert a.report(Filters(RANGE.start, RANGE.end, "web")) is not first
    # a thumbs on a turn already there, a reply arriving, a new log row, a ticket: each makes a new report
    world.clock.at("2026-11-12", "10:00")
    key = world.keys
    world.history.begin("web:fay", "late-key-1", "营业执照", "", "web")
    pending = a.report(RANGE)
    assert pending is not first and pending.total.messages == first.total.messages + 1
    world.history.finish("web:fay", "late-key-1", reply("ask_guide"))
    answered = a.report(RANGE)
    assert answered is not pending and answered.tables()["intents"].rows != pending.tables()["intents"].rows
    world.history.set_feedback("web:fay", "late-key-1", "up")
    thumbed = a.report(RANGE)
    assert thumbed is not answered and thumbed.total.up == answered.total.up + 1
    world.conversations.handover("web:fay", "人工", [])
    handed = a.report(RANGE)
    assert handed.total.handovers == thumbed.total.handovers + 1
    assert key == world.keys
