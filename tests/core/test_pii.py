"""core.pii: which numbers count as personal data, what they are replaced by, and the logging filter."""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging

import pytest

from core.pii import (
    PLACEHOLDERS,
    Found,
    MaskingFilter,
    contains_personal,
    find,
    luhn_ok,
    mask,
    mask_with,
    valid_id_card,
)

# the checks are computed here by the published rules, independently of the module under test
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check(prefix17: str) -> str:
    """The GB 11643 check character for a 17-digit prefix."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(prefix17, _WEIGHTS, strict=True)) % 11]


def luhn_digit(partial: str) -> str:
    """The digit that makes partial + digit pass the Luhn check."""
    for digit in "0123456789":
        number = partial + digit
        total = 0
        for i, char in enumerate(reversed(number)):
            value = int(char) * (2 if i % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digit
    raise AssertionError("unreachable")


def id_ending_in_x() -> str:
    for serial in range(1000):
        prefix = f"44030519870615{serial:03d}"
        if id_check(prefix) == "X":
            return prefix + "X"
    raise AssertionError("no prefix gives X")


VALID_ID = "110105199003071239"
CARD_19 = "622202001234567890" + luhn_digit("622202001234567890")


# ---- 身份证号


def test_the_sample_id_is_valid_by_the_rule() -> None:
    assert id_check(VALID_ID[:17]) == VALID_ID[17]
    assert valid_id_card(VALID_ID)


def test_a_valid_id_is_masked() -> None:
    assert mask(f"身份证{VALID_ID}") == "身份证〔身份证号〕"
    assert [f.kind for f in find(VALID_ID)] == ["id_card"]


def test_a_wrong_check_digit_is_not_an_id() -> None:
    assert not valid_id_card("110105199003071238")
    assert mask("编号110105199003071238") == "编号110105199003071238"


def test_an_id_ending_in_x_upper_or_lower_is_masked() -> None:
    number = id_ending_in_x()
    assert valid_id_card(number) and valid_id_card(number.lower())
    assert mask(f"证件号{number}。") == "证件号〔身份证号〕。"
    assert mask(f"证件号{number[:17]}x。") == "证件号〔身份证号〕。"
    wrong = number[:17] + ("0" if number[16] != "0" else "1")
    assert not valid_id_card(wrong)


def test_the_birth_date_guard() -> None:
    bad_month = "11010519901307123"  # month 13
    bad_year = "11010518500307123"  # year 1850
    bad_day = "11010519900332123"  # day 32
    for prefix in (bad_month, bad_year, bad_day):
        number = prefix + id_check(prefix)  # the check digit is right, the date is not
        assert not valid_id_card(number)
        assert not any(f.kind == "id_card" for f in find(number))


def test_valid_id_card_rejects_wrong_shapes() -> None:
    assert not valid_id_card("")
    assert not valid_id_card("110105900307123")  # the old 15-digit form is not accepted
    assert not valid_id_card(VALID_ID + "0")
    assert not valid_id_card(" " + VALID_ID[:17])
    assert not valid_id_card(VALID_ID[:17] + "Y")
    assert not valid_id_card("11010519900307123a")


def test_an_id_inside_a_longer_run_is_not_masked() -> None:
    for text in (f"A{VALID_ID}", f"{VALID_ID}7", f"9{VALID_ID}", f"{VALID_ID}b"):
        assert not any(f.kind == "id_card" for f in find(text)), text


def test_a_valid_id_beats_a_bank_card_reading() -> None:
    # an 18-digit number that is both a valid ID and Luhn-valid
    for serial in range(1000):
        prefix = f"32010219750823{serial:03d}"
        number = prefix + id_check(prefix)
        if number[-1].isdigit() and luhn_digit(number[:-1]) == number[-1]:
            break
    else:
        raise AssertionError("no such number found")
    assert luhn_ok(number) and valid_id_card(number)
    assert [(f.kind, f.text) for f in find(f"号码{number}")] == [("id_card", number)]


# ---- things that must stay


@pytest.mark.parametrize(
    "text",
    [
        "示府规〔2019〕3号",
        "索引号 11440300MB2C92134X/2024-00012",
        "2026-10-12",
        "HD202610120003",
        "12345热线",
        "95518",
        "第20261012号",
        "请拨打12345或95518咨询",
        "88886666",
        "01012345678",
        "订单号 2026101200001234",  # 16 digits, Luhn-invalid
    ],
)
def test_document_numbers_dates_and_hotlines_stay(text: str) -> None:
    assert mask(text) == text
    assert find(text) == []
    assert not contains_personal(text)


def test_the_16_digit_order_number_above_really_fails_luhn() -> None:
    assert not luhn_ok("2026101200001234")


# ---- 手机号


@pytest.mark.parametrize(
    "number",
    [
        "13812345678",
        "+86 138 1234 5678",
        "138-1234-5678",
        "138 1234 5678",
        "+8613812345678",
        "+86-13812345678",
        "8613812345678",
        "0086 13812345678",
        "19912345678",
        "１３８１２３４５６７８",  # full-width digits
    ],
)
def test_mobiles_are_masked(number: str) -> None:
    assert mask(f"手机：{number}，谢谢") == "手机：〔手机号〕，谢谢"
    [found] = find(f"手机：{number}，谢谢")
    assert found.kind == "mobile" and found.text == number


@pytest.mark.parametrize(
    "text",
    [
        "12812345678",  # second digit 2
        "10012345678",
        "138123456789",  # 12 digits
        "213812345678",
        "1381234567",  # 10 digits
        "No.13812345678X",
    ],
)
def test_not_mobiles(text: str) -> None:
    assert not any(f.kind == "mobile" for f in find(text)), text


# ---- 固定电话


@pytest.mark.parametrize(
    "number",
    ["010-12345678", "（0755）88886666", "(010)12345678", "0755 8888 6666", "0755-8888-6666", "021-1234567"],
)
def test_landlines_are_masked(number: str) -> None:
    assert mask(f"办公电话{number}。") == "办公电话〔电话〕。"
    assert [(f.kind, f.text) for f in find(f"办公电话{number}。")] == [("landline", number)]


def test_numbers_side_by_side_are_each_masked() -> None:
    text = "13812345678 010-12345678 0755 8888 6666"
    assert mask(text) == "〔手机号〕 〔电话〕 〔电话〕"
    assert mask(mask(text)) == mask(text)


# ---- 银行卡号


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert luhn_ok(CARD_19)
    assert luhn_ok("4111 1111 1111 1111") and luhn_ok("4111-1111-1111-1111")
    assert not luhn_ok("") and not luhn_ok("0") and not luhn_ok("4111a111111111111")


def test_luhn_digit_helper_agrees_with_a_known_number() -> None:
    assert luhn_digit("411111111111111") == "1"


def test_bank_cards_are_masked() -> None:
    assert len(CARD_19) == 19
    assert mask("卡号4111111111111111") == "卡号〔银行卡号〕"
    assert mask(f"卡号：{CARD_19}。") == "卡号：〔银行卡号〕。"
    assert [f.kind for f in find(CARD_19)] == ["bank_card"]


def test_grouped_bank_cards_are_masked_only_when_luhn_valid() -> None:
    grouped = " ".join([CARD_19[i : i + 4] for i in range(0, 19, 4)])
    assert grouped.count(" ") == 4 and grouped.endswith(CARD_19[16:])
    assert mask(f"请退到{grouped}这张卡") == "请退到〔银行卡号〕这张卡"
    assert mask("卡 4111-1111-1111-1111") == "卡 〔银行卡号〕"
    broken = grouped[:-1] + str((int(grouped[-1]) + 1) % 10)
    assert mask(f"请退到{broken}这张卡") == f"请退到{broken}这张卡"


def test_a_luhn_invalid_run_is_not_a_card() -> None:
    assert mask("4111111111111112") == "4111111111111112"
    broken = CARD_19[:-1] + str((int(CARD_19[-1]) + 1) % 10)
    assert mask(broken) == broken


def test_a_grouped_card_followed_by_a_stray_group_is_still_masked() -> None:
    assert mask("卡号4111 1111 1111 1111 5元") == "卡号〔银行卡号〕 5元"


def test_a_card_inside_a_longer_run_is_not_masked() -> None:
    text = "4111111111111111" + "1" * 5  # 21 digits
    assert find(text) == []


# ---- 电子邮箱


@pytest.mark.parametrize(
    "address", ["zhang.san@example.gov.cn", "a_b+c@mail.sz.gov.cn", "13812345678@163.com"]
)
def test_emails_are_masked(address: str) -> None:
    assert mask(f"邮箱 {address} 谢谢") == "邮箱 〔邮箱〕 谢谢"
    assert [(f.kind, f.text) for f in find(f"邮箱 {address} 谢谢")] == [("email", address)]


def test_an_at_sign_alone_is_not_an_email() -> None:
    for text in ("@市民热线", "a@b", "用户@我"):
        assert mask(text) == text


# ---- the whole message


COMPLAINT = "我的身份证号110105199003071239，手机13812345678，想投诉窗口态度差"


def test_the_complaint_is_masked() -> None:
    assert mask(COMPLAINT) == "我的身份证号〔身份证号〕，手机〔手机号〕，想投诉窗口态度差"


def test_mask_with_returns_what_was_replaced() -> None:
    masked, found = mask_with(COMPLAINT)
    assert masked == mask(COMPLAINT)
    assert [(f.kind, f.text) for f in found] == [("id_card", VALID_ID), ("mobile", "13812345678")]
    for item in found:
        assert COMPLAINT[item.start : item.end] == item.text


def test_find_is_in_text_order_and_non_overlapping() -> None:
    text = f"邮箱a@b.cn 卡{CARD_19} 电话010-12345678 手机+86 138 1234 5678 身份证{VALID_ID}"
    found = find(text)
    assert [f.kind for f in found] == ["email", "bank_card", "landline", "mobile", "id_card"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    assert all(text[f.start : f.end] == f.text for f in found)
    assert mask(text) == "邮箱〔邮箱〕 卡〔银行卡号〕 电话〔电话〕 手机〔手机号〕 身份证〔身份证号〕"


def test_the_longer_reading_wins() -> None:
    # "0086 138 1234" would also read as a landline; the whole mobile is longer
    assert [(f.kind, f.text) for f in find("0086 138 1234 5678")] == [("mobile", "0086 138 1234 5678")]
    # the mobile inside the address goes with the address
    assert [f.kind for f in find("13812345678@163.com")] == ["email"]


# ---- 护照号


@pytest.mark.parametrize("number", ["E12345678", "EA1234567", "EH7654321", "G12345678", "DE1234567",
                                    "SE7654321", "PE1234567", "E１２３４５６７８"])
def test_passports_are_masked(number: str) -> None:
    assert mask(f"护照号码：{number}。") == "护照号码：〔护照号〕。"


@pytest.mark.parametrize("text", ["E1234567", "E123456789", "EI1234567", "EO1234567", "XE12345678",
                                  "e12345678", "F12345678", "D1234567", "CE1234567", "E12345678X"])
def test_not_passports(text: str) -> None:
    assert not any(f.kind == "passport" for f in find(text)), text


def test_placeholders() -> None:
    assert PLACEHOLDERS == {
        "id_card": "〔身份证号〕",
        "mobile": "〔手机号〕",
        "landline": "〔电话〕",
        "bank_card": "〔银行卡号〕",
        "email": "〔邮箱〕",
        "passport": "〔护照号〕",
    }


def test_found_is_frozen() -> None:
    found = Found("mobile", 0, 11, "13812345678")
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.kind = "email"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    [
        COMPLAINT,
        f"卡{CARD_19}，手机138-1234-5678，邮箱x@y.com，电话（0755）88886666",
        f"{VALID_ID}+8613812345678",
        "13812345678.abc@x.com",
    ],
)
def test_mask_is_idempotent(text: str) -> None:
    once = mask(text)
    assert once != text
    assert mask(once) == once
    assert not contains_personal(once)


def test_text_without_digits_or_at_is_unchanged() -> None:
    for text in ("", "请问居住证怎么办理？", "How do I renew my permit?", "〔手机号〕"):
        assert mask(text) == text
        assert mask_with(text) == (text, [])
        assert not contains_personal(text)


def test_contains_personal() -> None:
    assert contains_personal(COMPLAINT)
    assert not contains_personal("示府规〔2019〕3号")


# ---- logging


def _record(msg: object, args: tuple[object, ...] | None) -> logging.LogRecord:
    return logging.LogRecord("civic.test", logging.INFO, __file__, 1, msg, args, None)


def test_masking_filter_masks_formatted_args() -> None:
    record = _record("phone %s", ("13812345678",))
    assert MaskingFilter().filter(record) is True
    assert "13812345678" not in record.getMessage()
    assert record.getMessage() == "phone 〔手机号〕"
    assert not record.args


def test_masking_filter_survives_odd_records() -> None:
    number = _record(13812345678, None)  # not a string
    assert MaskingFilter().filter(number) is True
    assert number.getMessage() == "〔手机号〕"

    bad_args = _record("id %d and %s", ("x",))  # the args do not fit the format
    assert MaskingFilter().filter(bad_args) is True
    assert bad_args.getMessage() == "id %d and %s"

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    odd = _record(Unprintable(), ("13812345678",))
    assert MaskingFilter().filter(odd) is True
    assert "13812345678" not in odd.getMessage()


def test_masking_filter_on_a_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("tests.core.pii")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("投诉人 %s，身份证 %s", "13812345678", VALID_ID)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "投诉人 〔手机号〕，身份证 〔身份证号〕\n"
