"""On a real stack (`civic serve`: supervisor, app, Rasa engine): no secret on any process's command line,
and no personal data planted in real traffic (web chat, /api/chat, a hand-over, the hotline) reaches a log
file under ``<home>/logs`` or a TEXT column of ``app.db`` or ``tracker.db`` unmasked (core.pii.find: 0).

The contact details a citizen leaves for a follow-up are kept encrypted (app/contacts.py): ciphertext has
no readable number, so the scan passes over it like any other column."""

from __future__ import annotations

import json
import sqlite3
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from app.accounts import Accounts
from core.pii import find, luhn_ok, valid_id_card
from tests.engine_fixtures import Stack, copy_home, http_json, start_stack

pytestmark = pytest.mark.engine


def _id_card(prefix: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(prefix, weights, strict=True))
    return prefix + "10X98765432"[total % 11]


def _luhn(prefix: str) -> str:
    return next(prefix + str(d) for d in range(10) if luhn_ok(prefix + str(d)))


ID_CARD = _id_card("11010519491231002")
CARD = _luhn("622202123456789012")
MOBILE = "13912345678"
KINDS = ("id_card", "bank_card", "mobile")


def personal(text: str) -> list[str]:
    """What core.pii.find reads as an ID, card or mobile number, less the fraction digits of a decimal
    (Rasa stores confidences such as 0.9949120302143152, which pass Luhn by chance)."""
    return [f.text for f in find(text) if f.kind in KINDS
            and not (f.start >= 2 and text[f.start - 1] == "." and text[f.start - 2].isdigit())]


@pytest.fixture(scope="module")
def stack(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("security")
    home = copy_home(trained_home, base / "home")
    running = start_stack(home, base)
    yield running
    left = running.stop()
    assert not left, f"processes left behind by civic serve: {left}"


def test_the_planted_numbers_are_personal_data() -> None:  # the scan below could find them
    assert valid_id_card(ID_CARD) and luhn_ok(CARD)
    assert {f.kind for f in find(f"身份证{ID_CARD} 卡号{CARD} 手机{MOBILE}")} == {"id_card", "bank_card",
                                                                                 "mobile"}


def test_no_secret_is_on_any_command_line(stack: Stack) -> None:
    secrets = tomllib.loads((stack.home / "secrets.toml").read_text(encoding="utf-8"))
    values = {k: v for k, v in secrets.items() if isinstance(v, str) and len(v) >= 8}
    assert "engine_token" in values and "staff_token" in values
    engine = [p for p in stack.descendants() if "engine.launch" in " ".join(p.cmdline())]
    assert engine, "the engine is started through engine/launch.py"
    seen = 0
    for proc in psutil.process_iter():
        try:
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        seen += 1
        leaked = [k for k, v in values.items() if v in cmdline]
        assert not leaked, (proc.pid, leaked)
    assert seen > 3
    # the engine has the token all the same: its API refuses a wrong one and takes the right one
    status = f"http://127.0.0.1:{stack.engine_port}/status"
    assert http_json(f"{status}?token=wrong")[0] == 401
    assert http_json(f"{status}?token={values['engine_token']}")[0] == 200


def _post(url: str, body: object, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _text_cells(db: Path) -> Iterator[tuple[str, str, str]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                query = f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") = \'text\''
                for (value,) in con.execute(query):
                    yield table, column, value
    finally:
        con.close()


def test_planted_personal_data_is_masked_in_every_log_and_table(stack: Stack) -> None:
    said = f"我的身份证号{ID_CARD}，手机{MOBILE}，银行卡{CARD}，想问结婚登记要带什么材料"
    # the REST chat API
    status, reply = http_json(stack.url + "api/chat", {"session": "sec-api", "text": said})
    assert status == 200, reply
    # the web chat's HTTP fallback
    status, body = _post(stack.url + "api/webchat/message", {"session": "web:sec-web", "text": said},
                         {"Idempotency-Key": uuid.uuid4().hex})
    assert status == 200, body
    # a hand-over, then the citizen's details to the person
    for text in ("转人工", f"我的电话是{MOBILE}，身份证{ID_CARD}"):
        status, reply = http_json(stack.url + "api/chat", {"session": "sec-handover", "text": text})
        assert status == 200, reply
    # the hotline: a caller's final segment with the numbers
    accounts = Accounts(stack.home / "app.db")
    try:
        token = accounts.add_token(f"sec-{uuid.uuid4().hex[:6]}", "hotline")
    finally:
        accounts.close()
    segment = {"seq": 1, "speaker": "caller", "text": said, "is_final": True, "start_ms": 0, "end_ms": 2000}
    status, body = _post(stack.url + "api/hotline/calls/sec-call/segments", segment,
                         {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    status, body = _post(stack.url + "api/hotline/calls/sec-call/end", {},
                         {"Authorization": f"Bearer {token}"})
    assert status == 200, body

    leaks: list[str] = []
    logs = sorted(p for p in (stack.home / "logs").rglob("*") if p.is_file())
    assert logs, "the stack writes logs"
    for path in logs:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if found := personal(line):
                leaks.append(f"{path.name}:{number}: {found}: {line[:160]}")
    scanned = 0
    for db in (stack.home / "app.db", stack.home / "tracker.db"):
        for table, column, value in _text_cells(db):
            scanned += 1
            if found := personal(value):
                leaks.append(f"{db.name} {table}.{column}: {found}: {value[:160]}")
    assert scanned > 20
    assert personal(f"x {MOBILE} 0.9949120302143152") == [MOBILE]  # the scan does see a planted number
    assert leaks == [], "\n".join(leaks[:40])
