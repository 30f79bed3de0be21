"""A caller's own details (core.pii with caller=True): names after 我叫/我姓 and house numbers, on a planted
set; 文号, dates and hotline numbers stay; the default masking (chat, the review) is unchanged."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.workorder import NgramClassifier, Routing, draft
from connectors.hotline import Call, Segment
from core.pii import (
    _ID_CHECK,
    _ID_WEIGHTS,
    CALLER_PLACEHOLDERS,
    PLACEHOLDERS,
    find,
    luhn_ok,
    mask,
    valid_id_card,
)
from core.settings import REPO_ROOT

NAME, HOUSE = CALLER_PLACEHOLDERS["name"], CALLER_PLACEHOLDERS["house_number"]

PLANTED = [
    ("我叫张伟想问一下社保卡", f"我叫{NAME}想问一下社保卡"),
    ("你好，我叫李建国，电话13812345678", f"你好，我叫{NAME}，电话{PLACEHOLDERS['mobile']}"),
    ("我姓王，叫王小明，住在中山路88号", f"我姓{NAME}，叫{NAME}，住在中山路{HOUSE}"),
    ("免贵姓欧阳，家里是3栋2单元501室", f"免贵姓{NAME}，家里是{HOUSE}"),
    ("本人叫陈红，住十号楼", f"本人叫{NAME}，住{HOUSE}"),
    ("我的名字叫赵敏。我家502室楼上漏水", f"我的名字叫{NAME}。我家{HOUSE}楼上漏水"),
    ("身份证110101199003070003，卡号6222020200112233446", None),
]
UNTOUCHED = [
    "依据示府规〔2019〕3号，5月3号以前提交",
    "我是想问结婚登记要带什么",
    "打12345热线，索引号11360799MB1B40105X/2025-00107",
    "第3条规定，2026年10月12日起施行",
]


@pytest.mark.parametrize(("text", "expected"), PLANTED)
def test_planted_caller_details_are_masked(text: str, expected: str | None) -> None:
    masked = mask(text, caller=True)
    if expected is not None:
        assert masked == expected
    assert not any(ch.isdigit() for ch in masked)
    assert mask(masked, caller=True) == masked  # idempotent


@pytest.mark.parametrize("text", UNTOUCHED)
def test_document_numbers_and_dates_stay(text: str) -> None:
    assert mask(text, caller=True) == text


def test_default_masking_leaves_names_and_addresses() -> None:
    text = "我叫张伟，办理地点：中山路88号"
    assert mask(text) == text
    assert {f.kind for f in find(text, caller=True)} == {"name", "house_number"}


def _id_number(rng: random.Random) -> str:
    body = f"{rng.randint(110000, 659000)}{rng.randint(1950, 2010)}{rng.randint(1, 12):02d}" \
           f"{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _card(rng: random.Random) -> str:
    digits = [int(d) for d in f"62{rng.randint(10**14, 10**15 - 1)}"]  # 17 digits, then the Luhn digit
    total = sum(d if i % 2 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(reversed(digits)))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def test_a_planted_call_is_masked_in_the_drafted_order(tmp_path: Path) -> None:
    """200 caller lines, each with an ID, a mobile, a card, a name and a house number planted among 文号,
    dates, 索引号 and application numbers: every planted item masked, every document number kept."""
    rng = random.Random(13)
    call = Call("planted")
    planted: list[str] = []
    kept: list[str] = []
    for seq in range(200):
        id_no, card = _id_number(rng), _card(rng)
        mobile = f"1{rng.choice('3456789')}{rng.randint(0, 10**9 - 1):09d}"
        name = rng.choice("王李张刘陈杨赵黄") + rng.choice(["伟", "芳", "建国", "小明", "秀英", "志强"])
        room = f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2808)}室"
        doc_no = f"示府规〔20{rng.randint(10, 26)}〕{rng.randint(1, 40)}号"
        day = f"2026年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
        app_no = f"HD2026{rng.randint(10**7, 10**8 - 1)}"
        assert valid_id_card(id_no) and luhn_ok(card)
        text = (f"我叫{name}，身份证{id_no}，手机{mobile}，住{room}，卡号{card}，按{doc_no}文件，"
                f"{day}交的申请，办件编号{app_no}，索引号11360799MB1B40105X/2025-00107")
        call.apply(Segment("planted", seq, "caller", text, True, seq * 1000, seq * 1000 + 900))
        planted += [id_no, mobile, card, room]
        kept += [doc_no, day, app_no]
    classifier = NgramClassifier.from_file(REPO_ROOT / "data" / "hotline" / "labelled.jsonl")
    routing = Routing(tmp_path / "routing.yml", lambda: ["示范市政务服务管理局"])
    order = draft(call, classifier, routing, [])
    transcript = "\n".join(line["text"] for line in order.transcript)
    everything = str(order.to_json())
    assert not [p for p in planted if p in everything]
    assert not [k for k in kept if k not in transcript]
    assert "11360799MB1B40105X/2025-00107" in transcript
    assert transcript.count("我叫〔姓名〕") == 200
