"""The dialogue against the real Rasa engine: data validation, the conversation test stories, and turns
through ``POST /api/chat`` (app -> Rasa -> in-app actions -> archive/retrieval -> reply)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from archive.demo import seed_demo
from archive.store import Archive
from civic.train import rasa_env
from core.settings import REPO_ROOT, load_settings
from nlu.generate import prepare_training
from tests.engine_fixtures import Stack

pytestmark = pytest.mark.engine

STORIES = REPO_ROOT / "tests" / "conversations"
ALLOWED_WARNINGS = ("is not used in any story or rule",)  # responses sent by custom actions


def rasa(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    settings = load_settings(home)
    if not Path(settings.rasa_bin).exists():
        pytest.skip("the engine virtualenv is missing; run `make setup`")
    return subprocess.run(
        [settings.rasa_bin, *args], cwd=REPO_ROOT, env=rasa_env(settings), capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def test_rasa_data_validate_is_clean(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "home" / "archive.db")
    seed_demo(archive)
    inputs = prepare_training(archive, REPO_ROOT, tmp_path / "gen")
    result = rasa(tmp_path / "home", "data", "validate", "--config", str(inputs.config), "--domain",
                  str(inputs.domain), "--data", *[str(p) for p in inputs.data])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if "UserWarning" in line
                and not any(allowed in line for allowed in ALLOWED_WARNINGS)]
    assert warnings == []


def test_conversation_stories_pass(trained_home: Path, tmp_path: Path) -> None:
    stories = [s for f in STORIES.glob("*.yml")
               for s in yaml.safe_load(f.read_text(encoding="utf-8"))["stories"]]
    assert len(stories) >= 25
    model = max((trained_home / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    out = tmp_path / "results"
    result = rasa(trained_home, "test", "core", "--stories", str(STORIES), "--model", str(model),
                  "--out", str(out), "--no-plot")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    failed = (out / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed[:4000]


def _payload_text(button: dict[str, str]) -> str:
    assert button["payload"].startswith("/ask_guide{")
    return button["payload"]


def test_chat_answers_cites_carries_context_and_hands_over(running_stack: Stack) -> None:
    status, first = running_stack.chat("e2e-1", "孩子刚出生上户口要带啥")
    assert status == 200, first
    assert first["intent"]["name"] == "ask_guide" and first["handoff"] is False
    message = first["messages"][0]
    assert "出生医学证明" in message["text"]
    assert message["card"]["checklist"]
    assert message["citations"][0]["id"] == "SF-G-003"
    assert set(message["citations"][0]) >= {"id", "title", "doc_no", "issuer", "issued_on", "url", "status"}

    status, fees = running_stack.chat("e2e-1", "那要多少钱？")
    assert status == 200
    assert "新生儿出生登记" in fees["messages"][0]["text"]
    assert fees["messages"][0]["citations"][0]["id"] == "SF-G-003"

    steps = next(b for b in message["buttons"] if json.loads(b["payload"][10:])["aspect"] == "steps")
    status, tapped = running_stack.chat("e2e-1", _payload_text(steps))
    assert status == 200 and tapped["intent"] == {"name": "ask_guide", "confidence": 1.0}
    assert tapped["messages"][0]["card"]["steps"]

    status, english = running_stack.chat("e2e-2", "what documents do I need for a residence permit")
    assert status == 200 and english["messages"][0]["text"].startswith("Documents to bring")

    status, human = running_stack.chat("e2e-3", "转人工")
    assert status == 200 and human["handoff"] is True
    status, paused = running_stack.chat("e2e-3", "你好？")
    assert status == 200 and paused["handoff"] is True and paused["intent"]["name"] is None


def test_chat_status_check_reveals_only_after_the_phone_digits_match(running_stack: Stack) -> None:
    _, asked = running_stack.chat("e2e-status", "我上周交的居住证办好了没")
    assert asked["intent"]["name"] == "ask_status"
    _, phone = running_stack.chat("e2e-status", "HD202610120003")
    assert "后4位" in phone["messages"][0]["text"]
    _, wrong = running_stack.chat("e2e-status", "1111")
    assert "不匹配" in wrong["messages"][0]["text"] and "张*明" not in json.dumps(wrong, ensure_ascii=False)
    _, right = running_stack.chat("e2e-status", "9187")
    shown = right["messages"][0]
    assert "张*明" in shown["text"] and "9187" not in shown["text"]
    assert shown["card"]["app_no"] == "HD202610120003"
