"""The foundation on the real stack: an engine killed mid-conversation, two app processes sharing the turns
of one conversation, the live index, and personal data that never lands anywhere in clear."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import load_settings
from tests.engine_fixtures import CIVIC, Stack, free_port, http_json

pytestmark = pytest.mark.engine

BIRTH_ID = "SF-G-003"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def chat(url: str, session: str, text: str, language: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"session": session, "text": text}
    if language:
        body["language"] = language
    status, reply = http_json(url + "api/chat", body, timeout=60)
    assert status == 200, reply
    return dict(reply)


def cited(reply: dict[str, Any]) -> list[str]:
    return [c["id"] for m in reply["messages"] for c in m["citations"]]


def test_an_engine_killed_mid_conversation(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    first = chat(stack.url, "kill-1", "孩子刚出生上户口要带啥")
    assert first["mode"] == "dialogue" and cited(first)[0] == BIRTH_ID
    engine = stack.state()["children"]["engine"]
    os.kill(engine, signal.SIGKILL)
    during = chat(stack.url, "kill-1", "出生医学证明丢了怎么办")  # nothing is lost: a search answer
    assert during["mode"] == "search" and during["messages"]
    assert "智能对话正在启动" in during["messages"][0]["text"]
    assert [b["payload"] for b in during["messages"][0]["buttons"]] == ["/ask_status", "/request_human"]
    wait_for(lambda: stack.health()[0] == 200, 300, "the restarted engine")
    wait_for(lambda: chat(stack.url, "probe", "你好")["mode"] == "dialogue", 30, "the dialogue")
    after = chat(stack.url, "kill-1", "那要多少钱？")  # the conversation is intact: the service in context
    assert after["mode"] == "dialogue" and cited(after)[0] == BIRTH_ID
    assert "新生儿出生登记" in after["messages"][0]["text"]


@pytest.fixture
def second_app(stack_factory: Callable[..., Stack], tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    """A stack (engine + app A) and a second app process B on the same home, talking to the same engine."""
    stack = stack_factory()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    env["CIVIC_ENGINE_URL"] = stack.state()["engine_url"]
    log = (tmp_path / "app-b.log").open("wb")
    proc = subprocess.Popen([str(CIVIC), "--home", str(stack.home), "app-worker", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: _status(url) == 200, 180, "app B")
        yield stack, url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _status(url: str) -> int:
    try:
        return http_json(url + "healthz", timeout=5)[0]
    except OSError:
        return 0


def test_two_app_processes_take_turns_of_one_conversation(second_app: tuple[Stack, str]) -> None:
    """The engine calls the actions on app A; B learns what it needs about B's turns from the engine's
    answer (intent) and passes the client's language in the message (metadata)."""
    stack, b = second_app
    a = stack.url
    first = chat(a, "two-1", "孩子刚出生上户口要带啥")
    assert first["intent"]["name"] == "ask_guide"
    fees = chat(b, "two-1", "那要多少钱？")
    assert fees["intent"]["name"] == "ask_guide" and cited(fees)[0] == BIRTH_ID
    where = chat(a, "two-1", "在哪里办")
    assert cited(where)[0] == BIRTH_ID
    # a first message that is a tapped button: the UI language sent to B decides the reply's language
    tapped = chat(b, "two-2", '/ask_guide{"item": "新生儿出生登记（上户口）", "aspect": "fees"}', "en")
    assert tapped["intent"] == {"name": "ask_guide", "confidence": 1.0}
    assert tapped["messages"][0]["text"].startswith("Fees for")
    zh = chat(a, "two-2", "在哪里办")  # typed Chinese: the conversation turns Chinese, whichever app
    assert zh["messages"][0]["text"].startswith("「")


def test_the_live_index_on_the_real_stack(stack_factory: Callable[..., Stack], tmp_path: Path) -> None:
    stack = stack_factory()
    doc = {"id": "G-BOAT", "type": "guide", "title": "游艇靠泊许可", "body": "游艇靠泊许可的办理。",
           "issuer": "示范市港航局", "materials": ["游艇登记证书", "船员适任证书"], "fees": "免费",
           "keywords": ["游艇靠泊"]}
    path = tmp_path / "boat.jsonl"
    path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    home = ["--home", str(stack.home)]
    subprocess.run([str(CIVIC), *home, "import", str(path)], check=True, capture_output=True, timeout=120)
    question = "游艇靠泊许可要带什么材料"
    found = wait_for(lambda: "G-BOAT" in cited(chat(stack.url, f"boat-{time.time()}", question)),
                     5.0, "the new guide")  # timed from the end of the import
    assert found < 5.0
    subprocess.run([str(CIVIC), *home, "docs", "abolish", "SF-P-002", "--reason", "test"], check=True,
                   capture_output=True, timeout=120)

    def labelled() -> bool:
        reply = chat(stack.url, f"policy-{time.time()}", "示府规〔2025〕5号还有效吗")
        citations = [c for m in reply["messages"] for c in m["citations"] if c["id"] == "SF-P-002"]
        return bool(citations) and citations[0]["status"] == "abolished" and any(
            "已失效" in m["text"] for m in reply["messages"])

    assert wait_for(labelled, 5.0, "the abolished policy labelled") < 5.0


def test_personal_data_never_lands_in_clear(stack_factory: Callable[..., Stack]) -> None:
    stack = stack_factory()
    asked = chat(stack.url, "pii-1", "我上周交的居住证办好了没")
    assert asked["intent"]["name"] == "ask_status"
    assert "后4位" in chat(stack.url, "pii-1", "HD202610120003")["messages"][0]["text"]
    shown = chat(stack.url, "pii-1", "9187")
    assert "张*明" in shown["messages"][0]["text"]
    complaint = "我的身份证号110105199003071239，手机13812345678，想投诉窗口态度差"
    recorded = chat(stack.url, "pii-2", complaint)
    assert recorded["intent"]["name"] == "complain"
    ticket = next(m["text"] for m in recorded["messages"] if "工单" in m["text"])
    ticket_id = re.search(r"C\d{12}", ticket)
    assert ticket_id, ticket
    token = load_settings(stack.home).staff_token
    contact = _get(stack.url + f"api/staff/tickets/{ticket_id.group(0)}/contact", token)
    assert {c["value"] for c in contact["contacts"]} == {"110105199003071239", "13812345678"}
    assert stack.stop() == []  # every file written and closed
    files = [*stack.home.glob("tracker.db*"), *stack.home.glob("app.db*"), *(stack.home / "logs").iterdir()]
    assert any(f.name == "tracker.db" for f in files) and any(f.name == "app.db" for f in files)
    for path in files:
        data = path.read_bytes()
        for secret in (b"110105199003071239", b"13812345678"):
            assert secret not in data, f"{secret!r} in {path}"
        assert re.search(rb"(?<![0-9])9187(?![0-9])", data) is None, f"the verification digits in {path}"
    tracker = (stack.home / "tracker.db").read_bytes()
    assert json.dumps("〔手机号〕").encode()[1:-1] in tracker  # the engine saw the message, masked


def _get(url: str, token: str) -> dict[str, Any]:
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return dict(json.loads(resp.read()))
