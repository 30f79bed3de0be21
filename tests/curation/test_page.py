"""/admin/curation over the real app (fake engine): the inbox, each action with its audit row and version,
training queued as a process of its own, activation (with the override only an admin may give) and
roll-back through the engine's PUT /model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.audit import AuditLog
from app.curation import training
from app.curation.store import CurationStore, read_active
from archive.models import DocType, Status
from archive.store import Archive
from core.settings import Settings
from tests.admin.conftest import SignedIn
from tests.curation.conftest import SwappingEngine


def _audit(settings: Settings, action: str) -> list[Any]:
    log = AuditLog(settings.paths.app_db)
    try:
        return log.query(action=action)
    finally:
        log.close()


async def _post(client: TestClient, path: str, data: list[tuple[str, str]]) -> str:
    response = await client.post(path, data=[("csrf", client.csrf), *data],  # type: ignore[attr-defined]
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_the_page_shows_the_inbox_grouped_and_masked(signed_in: SignedIn) -> None:
    editor = await signed_in("editor1")
    html = await (await editor.get("/admin/curation")).text()
    assert "收件箱 Inbox (2)" in html
    assert "收到收到" in html and "好的收到" in html
    assert "11010519491231002X" not in html and "〔身份证号〕" in html
    staff = await signed_in("staff1")
    assert (await staff.get("/admin/curation", allow_redirects=False)).status == 403


async def test_add_examples_validates_the_intent_versions_and_audits(signed_in: SignedIn,
                                                                     settings: Settings) -> None:
    editor = await signed_in("editor1")
    where = await _post(editor, "/admin/curation/examples", [("text", "收到收到"), ("text", "好的收到"),
                                                             ("intent", "no_such_intent")])
    assert "error=" in where and CurationStore(settings.paths.curation_dir).latest_version() == 0
    where = await _post(editor, "/admin/curation/examples", [("text", "收到收到"), ("text", "好的收到"),
                                                             ("intent", "affirm")])
    assert "notice=" in where
    data = CurationStore(settings.paths.curation_dir).get()
    assert data.version == 1 and {e.text for e in data.examples} == {"收到收到", "好的收到"}
    [row] = _audit(settings, "curation_add_examples")
    assert row.actor == "editor1" and row.target == "affirm"
    html = await (await editor.get("/admin/curation")).text()
    assert "收件箱 Inbox (1)" in html  # the curated group left the inbox
    assert "第 1 版 v1" in html


async def test_dismiss_and_faq_draft(signed_in: SignedIn, settings: Settings) -> None:
    editor = await signed_in("editor1")
    await _post(editor, "/admin/curation/dismiss", [("text", "收到收到"), ("reason", "test")])
    await _post(editor, "/admin/curation/faq", [("text", "〔身份证号〕丢了怎么办"),
                                                ("title", "身份证丢了怎么办？"),
                                                ("answer", "到户籍所在地派出所补领。")])
    assert _audit(settings, "curation_dismiss") and _audit(settings, "curation_add_faq")
    with Archive(settings.paths.archive_db) as archive:
        drafts = [d for d in archive.list(status=Status.DRAFT) if d.id.startswith("CUR-F-")]
    assert len(drafts) == 1 and drafts[0].type == DocType.FAQ and drafts[0].title == "身份证丢了怎么办？"
    html = await (await editor.get("/admin/curation")).text()
    assert "收到收到" not in html.split("h-inbox")[1].split("h-versions")[0]


async def test_synonym_needs_a_published_service(signed_in: SignedIn, settings: Settings) -> None:
    editor = await signed_in("editor1")
    where = await _post(editor, "/admin/curation/synonym", [("service", "火星移民"), ("synonym", "上火星")])
    assert "error=" in where
    with Archive(settings.paths.archive_db) as archive:
        docs = archive.iter_documents(statuses=[Status.PUBLISHED])
        guide = next(d for d in docs if d.type == DocType.GUIDE)
    await _post(editor, "/admin/curation/synonym", [("service", guide.title), ("synonym", "某个新叫法")])
    assert CurationStore(settings.paths.curation_dir).get().synonyms == {guide.title: ["某个新叫法"]}


async def test_train_queues_a_candidate_in_a_process_of_its_own(signed_in: SignedIn, settings: Settings,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(training, "start_background", lambda s, cid: started.append(cid))
    editor = await signed_in("editor1")
    assert "error=" in await _post(editor, "/admin/curation/train", [])  # nothing curated yet
    await _post(editor, "/admin/curation/examples", [("text", "收到收到"), ("intent", "affirm")])
    await _post(editor, "/admin/curation/train", [])
    assert len(started) == 1
    status = await (await editor.get("/api/admin/curation/status")).json()
    assert status["running"] is True and status["candidate"]["id"] == started[0]
    assert "error=" in await _post(editor, "/admin/curation/train", [])  # one at a time
    assert _audit(settings, "curation_train")[0].target == started[0]


def _ready(settings: Settings, regressions: list[str]) -> str:
    CurationStore(settings.paths.curation_dir).add_examples("affirm", ["收到收到"], intents=["affirm"])
    candidates = training.Candidates(settings.paths.curation_dir)
    cid = candidates.new(1, "editor1")
    (candidates.path(cid) / "model").mkdir(parents=True)
    (candidates.path(cid) / "model" / f"{cid}.tar.gz").write_bytes(b"candidate")
    report = training.compare([("好的", "affirm"), ("不要", "deny")], ["affirm", "deny"],
                              ["affirm", "affirm" if regressions else "deny"], [("收到收到", "affirm")],
                              ["nlu_fallback"], ["affirm"])
    report.update(version=1, candidate=cid)
    (candidates.path(cid) / "report.json").write_text(json.dumps(report), encoding="utf-8")
    candidates.set_status(cid, state="ready")
    return cid


async def test_activate_and_roll_back_through_the_engine(signed_in: SignedIn, settings: Settings,
                                                         engine: SwappingEngine) -> None:
    cid = _ready(settings, [])
    editor = await signed_in("editor1")
    html = await (await editor.get("/admin/curation")).text()
    assert "收到收到" in html and "nlu_fallback" in html  # the changed answers
    await _post(editor, f"/admin/curation/candidates/{cid}/activate", [])
    assert engine.loads == [str(settings.paths.models_dir / f"{cid}.tar.gz")]
    assert read_active(settings.paths.curation_dir)["candidate"] == cid
    assert _audit(settings, "curation_activate")[0].actor == "editor1"
    await _post(editor, "/admin/curation/rollback", [])
    assert engine.loads[-1] == str(settings.paths.models_dir / "20261201-000000-original.tar.gz")
    assert _audit(settings, "curation_rollback")


async def test_a_regressing_candidate_needs_an_admins_override(signed_in: SignedIn, settings: Settings,
                                                               engine: SwappingEngine) -> None:
    cid = _ready(settings, ["deny"])
    editor = await signed_in("editor1")
    assert "error=" in await _post(editor, f"/admin/curation/candidates/{cid}/activate", [])
    refused = await _post(editor, f"/admin/curation/candidates/{cid}/activate", [("override", "yes")])
    assert "error=" in refused
    assert engine.loads == []
    admin = await signed_in("admin1")
    html = await (await admin.get("/admin/curation")).text()
    assert "Activate anyway" in html
    await _post(admin, f"/admin/curation/candidates/{cid}/activate", [("override", "yes")])
    assert len(engine.loads) == 1
    [override] = _audit(settings, "curation_override")
    assert override.actor == "admin1" and override.target == cid
