"""A caller's own details (core.pii with caller=True): names after 我叫/我姓 and house numbers, on a planted
set; 文号, dates and hotline numbers stay; the default masking (chat, the review) is unchanged."""

from __future__ import annotations

import pytest

from core.pii import CALLER_PLACEHOLDERS, PLACEHOLDERS, find, mask

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
