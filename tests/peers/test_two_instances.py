"""Issue 17's done-when for sharing, on two real instances on loopback (`civic serve` each, with the engine):
a county instance subscribes to a province instance; a document published upstream appears downstream with
its origin in the catalog and is cited in the downstream chat; abolished upstream, it is labelled downstream;
the upstream goes down (a document published meanwhile) and comes back: the sync resumes without loss or
duplicates; a clash on 索引号 is reported, not overwritten; a wrong token is 401.

The delays (publish → downstream catalog and chat, abolish → label) are printed as ``PEERS-MEASURE`` lines
(bench/PEERS.md).  Run: CIVIC_TEST_TRAINED_HOME=/tmp/th13 .venv/bin/python -m pytest -m engine -s
tests/peers/test_two_instances.py
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.models import Document, Status
from archive.store import Archive
from tests.engine_fixtures import CIVIC, Stack, copy_home, start_stack

pytestmark = pytest.mark.engine

LABEL = "示范省人民政府"
TITLE = "示范省数字人才引进补贴办法"
TARGET_S = 60.0


def civic(home: Path, *args: str) -> str:
    done = subprocess.run([str(CIVIC), "--home", str(home), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"civic {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def get(url: str, token: str = "") -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")


def wait_for(what: str, check: Callable[[], Any], timeout: float = TARGET_S, every: float = 0.5) -> float:
    """Seconds until ``check()`` is truthy; fails after ``timeout``."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def cited(stack: Stack, question: str, doc_id: str) -> dict[str, Any] | None:
    """The citation of ``doc_id`` in the downstream chat's answer to ``question`` (a fresh session)."""
    status, reply = stack.chat(f"peers-{time.monotonic_ns()}", question)
    assert status == 200, reply
    for message in reply["messages"]:
        for c in message.get("citations") or []:
            if c.get("id") == doc_id:
                return dict(c)
    return None


def publish(home: Path, doc: Document) -> float:
    """Write ``doc`` as a draft into the upstream's archive and publish it (``Archive.set_status``, what
    `civic docs publish` and the console's approval do, here in this process so the moment is exact)."""
    with Archive(home / "archive.db") as archive:
        archive.upsert(doc)
        archive.set_status(doc.id, Status.PUBLISHED)
    return time.monotonic()


def test_two_instances_share_across_levels(stack_factory: Callable[..., Stack], trained_home: Path,
                                           tmp_path: Path) -> None:
    up_home = copy_home(trained_home, tmp_path / "province")
    down_home = copy_home(trained_home, tmp_path / "county")
    with (down_home / "civic.toml").open("a", encoding="utf-8") as toml:
        toml.write("peer_poll_seconds = 1.0\n")
    up, down = stack_factory(home=up_home, wait=False), stack_factory(home=down_home, wait=False)
    up.wait_ready()
    down.wait_ready()
    restarted: Stack | None = None
    try:
        token = civic(up_home, "tokens", "add", "county", "--scope", "feeds").strip().splitlines()[-1]
        feed = up.url + "api/catalog/changes"
        assert get(feed)[0] == 401
        assert get(feed, "civ_wrong-token")[0] == 401
        assert get(feed, token)[0] == 200
        # both were seeded from the same demo corpus: subscribe from the upstream's present change
        with Archive(up_home / "archive.db") as archive:
            since = archive.latest_change()
        token_file = tmp_path / "province.token"
        token_file.write_text(token + "\n", encoding="utf-8")
        civic(down_home, "peers", "add", "prov", up.url.rstrip("/"), "--level", "province",
              "--token-file", str(token_file), "--label", LABEL, "--since", str(since))
        assert token not in civic(down_home, "peers", "status")
        # a local document whose 索引号 the province will also use
        with Archive(down_home / "archive.db") as archive:
            archive.upsert(Document(id="LOCAL-CLASH", title="县级就业补贴通知", body="第一条 县级补贴。",
                                    index_no="11360000MB0000000X/2026-09999", issuer="示范县人民政府"))

        # publish upstream -> downstream catalog (with origin) and chat (cited with origin)
        assert get(down.url + "catalog/doc/prov%3ASP-1")[0] == 404
        doc = Document(id="SP-1", title=TITLE, status=Status.DRAFT, issuer=LABEL, issued_on="2026-05-01",
                       doc_no="示省政规〔2026〕7号", index_no="11360000MB0000000X/2026-00007",
                       keywords=["数字人才", "引进补贴"], topic="人才",
                       body="第一条 为吸引数字人才来示范省工作，省财政对新引进的数字人才给予一次性引进补贴。"
                            "第二条 本科学历补贴三万元，硕士五万元，博士十万元。")
        published = publish(up_home, doc)
        page = down.url + "catalog/doc/prov%3ASP-1"
        wait_for("the document in the downstream catalog",
                              lambda: (lambda r: r[0] == 200 and f"来源：{LABEL}" in r[1])(get(page)))
        in_catalog = time.monotonic() - published
        found: dict[str, Any] = {}

        def in_chat() -> bool:
            c = cited(down, f"{TITLE}有哪些规定", "prov:SP-1")
            if c is not None:
                found.update(c)
            return c is not None

        wait_for("the document cited in the downstream chat", in_chat, timeout=TARGET_S, every=1.0)
        to_chat = time.monotonic() - published
        assert found["origin"] == LABEL and found["origin_level"] == "province" and found["is_current"]
        status, body = get(down.url + "catalog?level=province")
        assert status == 200 and TITLE in body
        print(f"PEERS-MEASURE publish->downstream catalog {in_catalog:.1f} s, publish->downstream chat"
              f" {to_chat:.1f} s (mode {down.chat('m', TITLE)[1]['mode']})")

        # a clash on 索引号: reported, the local document untouched
        publish(up_home, Document(id="SP-CLASH", title="示范省就业补贴通知", body="第一条 省级补贴。",
                                          index_no="11360000MB0000000X/2026-09999", issuer=LABEL,
                                          status=Status.DRAFT))
        wait_for("the clash reported in /healthz",
                 lambda: down.health()[1]["peers"]["prov"]["clashes"] == 1)
        status_text = civic(down_home, "peers", "status", "prov")
        assert "clashes 1" in status_text and "SP-CLASH" in status_text and "LOCAL-CLASH" in status_text
        with Archive(down_home / "archive.db") as archive:
            assert archive.get("LOCAL-CLASH").title == "县级就业补贴通知"
            assert archive.find("prov:SP-CLASH") is None

        # abolish upstream -> labelled downstream
        with Archive(up_home / "archive.db") as archive:
            archive.set_status("SP-1", Status.ABOLISHED, reason="政策到期停止执行")
        abolished = time.monotonic()
        wait_for("the abolition labelled in the downstream catalog",
                 lambda: (lambda r: r[0] == 200 and "有效性 Validity：已废止" in r[1])(get(page)))
        label_s = time.monotonic() - abolished
        found.clear()
        wait_for("the abolition labelled in the downstream chat",
                 lambda: in_chat() and found.get("status") == "abolished", every=1.0)
        to_chat_label = time.monotonic() - abolished
        print(f"PEERS-MEASURE abolish->downstream catalog label {label_s:.1f} s, abolish->downstream chat"
              f" label {to_chat_label:.1f} s")

        # the upstream goes down; a document published meanwhile arrives once it is back
        port = up.port
        assert not up.stop(), "processes left behind by the upstream"
        stopped = time.monotonic()
        wait_for("the downstream noticing the upstream is down",
                 lambda: down.health()[1]["peers"]["prov"]["last_error"] != "", timeout=30)
        later = Document(id="SP-2", title="示范省数字人才安居办法", body="第一条 数字人才安居补贴。",
                         issuer=LABEL, doc_no="示省政规〔2026〕8号", status=Status.DRAFT)
        with Archive(up_home / "archive.db") as archive:
            archive.upsert(later)
            archive.set_status("SP-2", Status.PUBLISHED)
        restart = time.monotonic()
        restarted = start_stack(up_home, tmp_path, "--port", str(port))
        back = time.monotonic()
        missed = down.url + "catalog/doc/prov%3ASP-2"
        wait_for("the document published during the outage", lambda: get(missed)[0] == 200,
                 timeout=MAX_BACKOFF_WAIT)
        print(f"PEERS-MEASURE upstream restart took {back - restart:.1f} s (down {restart - stopped:.1f} s"
              " before);"
              f" missed document downstream {time.monotonic() - back:.1f} s after it was ready,"
              f" {time.monotonic() - restart:.1f} s after the restart began")
        state = down.health()[1]["peers"]["prov"]
        assert state["last_error"] == "" and state["failures"] == 0
        with Archive(down_home / "archive.db") as archive:
            # no loss, no duplicates: SP-1 published then abolished (two versions), SP-2 once
            assert [v.status for v in archive.history("prov:SP-1")] == [Status.PUBLISHED, Status.ABOLISHED]
            assert len(archive.history("prov:SP-2")) == 1
            shared = [d.id for d in archive.iter_documents() if d.origin == "prov"]
            assert sorted(shared) == ["prov:SP-1", "prov:SP-2"]
        peers_json = json.dumps(down.health()[1]["peers"], ensure_ascii=False)
        assert token not in peers_json
    finally:
        if restarted is not None:
            assert not restarted.stop(), "processes left behind by the restarted upstream"


# the back-off after the outage: poll 1 s doubling per failure, at most app.peers.MAX_BACKOFF
MAX_BACKOFF_WAIT = 120.0
