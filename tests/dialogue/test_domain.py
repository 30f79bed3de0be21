"""The domain: every text in both languages, and every response the actions use exists."""

from __future__ import annotations

import re

from bot.aspects import ASPECT_FIELDS
from bot.texts import load_domain
from core.settings import REPO_ROOT

DOMAIN = load_domain(REPO_ROOT / "domain")["responses"]


def test_every_response_has_an_english_variant_and_a_chinese_default() -> None:
    for name, variants in DOMAIN.items():
        english = [v for v in variants if v.get("condition") == [{"type": "slot", "name": "language",
                                                                   "value": "en"}]]
        default = [v for v in variants if not v.get("condition")]
        assert len(english) == 1 and len(default) == 1, name
        assert re.search(r"[\u4e00-\u9fff]", default[0]["text"]), name
        placeholders = [set(re.findall(r"{(\w+)}", v[0]["text"])) for v in (english, default)]
        assert placeholders[0] == placeholders[1], name


def test_every_response_the_actions_name_exists() -> None:
    used: set[str] = set()
    for path in (REPO_ROOT / "bot").glob("*.py"):
        used |= set(re.findall(r"\"(utter_[a-z_0-9]+)\"", path.read_text(encoding="utf-8")))
    used |= {f"utter_guide_{a}" for a in ASPECT_FIELDS} | {f"utter_label_{a}" for a in ASPECT_FIELDS}
    used |= {f"utter_label_state_{s}" for s in ("in_progress", "completed", "rejected", "needs_more")}
    used.discard("utter_action")  # a key of bot-event metadata, not a response
    missing = sorted(u for u in used if u not in DOMAIN)
    assert missing == []


def test_no_user_facing_chinese_in_action_code() -> None:
    for path in (REPO_ROOT / "bot").glob("*.py"):
        code = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.strip().startswith("#"))
        strings = re.findall(r"(?<![\w\"])\"([^\"\n]*[\u4e00-\u9fff][^\"\n]*)\"", code)
        # only cue words for detecting aspects (bot/aspects.py) and the 文号 bracket table may be Chinese
        assert path.name in {"aspects.py", "context.py"} or not strings, (path.name, strings)
