"""The 示范市 demo corpus (archive/demo/*.jsonl): counts, catalog completeness and internal consistency.

Reads the JSONL directly so it does not depend on the importer; the only shared code it uses is the
record contract in archive.models (field names, statuses, types).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from archive.models import DocType, Document, Status

DEMO = Path(__file__).resolve().parents[2] / "archive" / "demo"
REFERENCE_DAY = "2026-11-25"  # the corpus is written as of this day (validity windows, application histories)
DOC_FIELDS = {f.name for f in dataclasses.fields(Document)}
APP_FIELDS = {
    "app_no",
    "item",
    "guide_id",
    "applicant",
    "phone_last4",
    "submitted_on",
    "current_step",
    "state",
    "expected_by",
    "history",
}
GUIDE_REQUIRED = ("materials", "location", "hours", "fees", "steps", "conditions", "phone")
FINAL_STEP = {"completed": {"已办结"}, "needs_more": {"补正材料"}, "rejected": {"不予受理", "不予批准"}}

# Life events the demo must cover: each tuple lists words that must all appear in one guide title.
LIFE_EVENTS = [
    ("结婚登记",),
    ("离婚登记",),
    ("出生登记", "上户口"),
    ("出生医学证明",),
    ("户口迁入",),
    ("户口迁出",),
    ("居住证", "首次"),
    ("居住证签注",),
    ("身份证", "首次"),
    ("身份证换领",),
    ("身份证补领",),
    ("社会保障卡申领",),
    ("社会保障卡补换",),
    ("公积金", "租房"),
    ("公积金", "购房"),
    ("公积金", "退休"),
    ("个体工商户",),
    ("营业执照",),
    ("驾驶证", "换证"),
    ("驾驶证补证",),
    ("年检",),
    ("护照",),
    ("港澳",),
    ("异地就医",),
    ("慢特病",),
    ("养老金",),
    ("残疾人证",),
    ("失业保险金",),
    ("生育津贴",),
    ("低保",),
    ("老年人优待证",),
    ("新生儿", "医疗保险"),
    ("入学",),
    ("二手房",),
    ("无犯罪记录证明",),
    ("公共租赁住房",),
    ("灵活就业",),
    ("户口注销",),
    ("高龄津贴",),
]
INFORMAL_NAMES = [
    "上户口",
    "落户",
    "办身份证",
    "换驾照",
    "提公积金",
    "领结婚证",
    "办护照",
    "低保",
    "年检",
    "过户",
]


def load(name: str) -> list[dict[str, Any]]:
    path = DEMO / name
    text = path.read_text(encoding="utf-8")
    assert "\\u" not in text, f"{name} must be written with ensure_ascii=False"
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def guides() -> list[dict[str, Any]]:
    return load("guides.jsonl")


@pytest.fixture(scope="module")
def policies() -> list[dict[str, Any]]:
    return load("policies.jsonl")


@pytest.fixture(scope="module")
def faqs() -> list[dict[str, Any]]:
    return load("faqs.jsonl")


@pytest.fixture(scope="module")
def apps() -> list[dict[str, Any]]:
    return load("applications.jsonl")


@pytest.fixture(scope="module")
def docs(
    guides: list[dict[str, Any]], policies: list[dict[str, Any]], faqs: list[dict[str, Any]]
) -> list[dict]:
    return guides + policies + faqs


def is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def test_counts_meet_the_minimums(guides: list, policies: list, faqs: list, apps: list) -> None:
    assert len(guides) >= 42
    assert len(policies) == 15
    assert len(faqs) >= 12
    assert len(apps) == 30


def test_ids_are_unique_readable_and_typed(guides: list, policies: list, faqs: list, docs: list) -> None:
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids))
    for rows, prefix, doc_type in (
        (guides, "SF-G-", "guide"),
        (policies, "SF-P-", "policy"),
        (faqs, "SF-F-", "faq"),
    ):
        for n, row in enumerate(rows, start=1):
            assert row["id"] == f"{prefix}{n:03d}"
            assert row["type"] == doc_type and DocType(row["type"])


def test_every_document_has_the_catalog(docs: list) -> None:
    index_nos = [d["index_no"] for d in docs]
    assert len(index_nos) == len(set(index_nos))
    for d in docs:
        assert set(d) <= DOC_FIELDS, f"{d['id']}: unknown fields {set(d) - DOC_FIELDS}"
        assert d["title"].strip() and d["body"].strip(), d["id"]
        for key in (
            "index_no",
            "issuer",
            "summary",
            "topic",
            "genre",
            "audience",
            "url",
            "issued_on",
            "valid_from",
        ):
            assert str(d.get(key, "")).strip(), f"{d['id']}: empty {key}"
        assert re.fullmatch(r"[0-9A-Z]{18}/\d{4}-\d{5}", d["index_no"]), d["index_no"]
        assert d["issuer"].startswith("示范市"), d["id"]
        assert d["url"].startswith("https://www.shifan.gov.cn/"), d["id"]
        assert isinstance(d["keywords"], list) and len(d["keywords"]) >= 3, d["id"]
        Status(d["status"])


def test_dates_parse_and_windows_are_ordered(docs: list) -> None:
    for d in docs:
        for key in ("issued_on", "valid_from", "valid_until"):
            assert d[key] == "" or is_date(d[key]), f"{d['id']}: bad {key} {d[key]!r}"
        assert d["issued_on"] <= d["valid_from"], d["id"]
        if d["valid_until"]:
            assert d["valid_from"] < d["valid_until"], d["id"]
        assert d["issued_on"] <= REFERENCE_DAY, d["id"]


def test_guides_carry_the_structured_fields(guides: list) -> None:
    for g in guides:
        for key in GUIDE_REQUIRED:
            assert g.get(key), f"{g['id']}: missing {key}"
        assert g["time_limit_legal"] or g["time_limit_promised"], g["id"]
        assert isinstance(g["materials"], list) and all(isinstance(m, str) and m for m in g["materials"])
        assert isinstance(g["steps"], list) and len(g["steps"]) >= 2, g["id"]
        assert "示范市" in g["location"], g["id"]
        assert re.fullmatch(r"0799-\d{5,8}", g["phone"]), g["phone"]
        assert g["genre"] == "办事指南" and g["status"] == "published"
        assert 150 <= len(g["body"]) <= 500, f"{g['id']}: body is {len(g['body'])} chars"
    # variety: the demo should not repeat one fee, agency or address everywhere
    assert len({g["fees"] for g in guides}) >= 15
    assert len({g["issuer"] for g in guides}) >= 10
    assert len({g["location"] for g in guides}) >= 10


def test_required_life_events_are_present(guides: list) -> None:
    titles = [g["title"] for g in guides]
    missing = [words for words in LIFE_EVENTS if not any(all(w in t for w in words) for t in titles)]
    assert not missing, f"no guide for {missing}"


def test_keywords_include_informal_names(guides: list) -> None:
    keywords = {k for g in guides for k in g["keywords"]}
    assert not [w for w in INFORMAL_NAMES if w not in keywords]


def test_policies_have_structured_bodies_and_document_numbers(policies: list) -> None:
    doc_nos = [p["doc_no"] for p in policies]
    assert all(re.fullmatch(r"示\S+〔\d{4}〕\d+号", n) for n in doc_nos), doc_nos
    assert len(doc_nos) == len(set(doc_nos))
    for p in policies:
        assert 300 <= len(p["body"]) <= 1200, f"{p['id']}: body is {len(p['body'])} chars"
        headings = re.findall(
            r"^(第[一二三四五六七八九十]+[条章]|[一二三四五六七八九十]+、)", p["body"], re.M
        )
        assert len(headings) >= 4, f"{p['id']} needs headings to split on"


def test_lifecycle_of_policies_is_consistent(policies: list) -> None:
    by_id = {p["id"]: p for p in policies}
    states = [p["status"] for p in policies]
    assert states.count("expired") >= 3 and states.count("abolished") >= 2
    for p in policies:
        if p["status"] in ("expired", "abolished"):
            assert p["status_reason"].strip(), p["id"]
            assert p["valid_until"] and p["valid_until"] < REFERENCE_DAY, p["id"]
        else:
            assert not p["status_reason"] and not p["replaced_by"], p["id"]
            assert not p["valid_until"] or p["valid_until"] >= REFERENCE_DAY, f"{p['id']} should be expired"
        if p["status"] == "abolished":
            successor = by_id.get(p["replaced_by"])
            assert successor is not None, f"{p['id']} replaced_by {p['replaced_by']!r} is not in the file"
            assert successor["status"] == "published" and successor["topic"] == p["topic"]
            assert successor["issued_on"] > p["issued_on"]
            assert p["doc_no"] in successor["body"], "the new document should say what it repeals"


def test_faqs_are_questions_with_answering_agencies(faqs: list) -> None:
    for f in faqs:
        assert f["title"].endswith(("？", "?", "）")) and "？" in f["title"], f["title"]
        assert f["genre"] == "问答" and f["issuer"]
        assert len(f["body"]) >= 80, f["id"]
    text = " ".join(f["title"] + f["body"] for f in faqs)
    for topic in ("预约", "异地", "丢", "12345", "代办", "办件"):
        assert topic in text, topic


def test_applications_point_at_guides(apps: list, guides: list) -> None:
    by_id = {g["id"]: g for g in guides}
    numbers = [a["app_no"] for a in apps]
    assert len(numbers) == len(set(numbers))
    for a in apps:
        assert set(a) == APP_FIELDS, a["app_no"]
        assert re.fullmatch(r"HD2026\d{8}", a["app_no"]), a["app_no"]
        assert a["guide_id"] in by_id, a["app_no"]
        assert a["item"] == by_id[a["guide_id"]]["title"], a["app_no"]
        assert "*" in a["applicant"] and len(a["applicant"]) <= 4, a["applicant"]
        assert re.fullmatch(r"\d{4}", a["phone_last4"]), a["app_no"]
    assert len({a["state"] for a in apps}) == 4, "every state should appear at least once"


def test_application_histories_match_current_step(apps: list) -> None:
    for a in apps:
        assert is_date(a["submitted_on"]) and is_date(a["expected_by"]), a["app_no"]
        assert "2026-10-01" <= a["submitted_on"] <= REFERENCE_DAY, a["app_no"]
        assert a["expected_by"] >= a["submitted_on"], a["app_no"]
        history = a["history"]
        assert history and history[0]["step"] == "受理", a["app_no"]
        assert history[-1]["step"] == a["current_step"], a["app_no"]
        times = [dt.datetime.fromisoformat(h["at"]) for h in history]
        assert times == sorted(times), f"{a['app_no']}: history out of order"
        assert times[0].date().isoformat() == a["submitted_on"], a["app_no"]
        assert times[-1].date().isoformat() <= REFERENCE_DAY, a["app_no"]
        assert all(h["note"] for h in history), a["app_no"]
        final = FINAL_STEP.get(a["state"])
        if final is None:
            assert a["state"] == "in_progress"
            assert not any(a["current_step"] in steps for steps in FINAL_STEP.values()), a["app_no"]
        else:
            assert a["current_step"] in final, a["app_no"]
