"""The checks before publishing (archive/review.py), kind by kind, and `civic review`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.models import DocType, Document, Status
from archive.review import KINDS, Finding, load_negative_list, review, text_fields
from archive.store import Archive
from core.settings import HomePaths
from tests.archive.helpers import run

VALID_ID = "11010519491231002X"  # the GB 11643 sample number
TODAY = "2026-12-01"


def doc(body: str = "正文。", **fields: object) -> Document:
    base: dict[str, object] = {
        "id": "T-1",
        "title": "测试文件",
        "body": body,
        "type": DocType.FAQ,
        "issuer": "示范市政务服务管理局",
    }
    base.update(fields)
    return Document(**base)  # type: ignore[arg-type]


def kinds(document: Document, terms: list[str] | None = None) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in review(document, terms or [], TODAY)]


def test_offsets_point_into_the_field_text() -> None:
    body = f"申请人身份证号{VALID_ID}，手机13812345678。"
    for f in review(doc(body), [], TODAY):
        assert body[f.start : f.end] == f.text
        assert f.field == "body" and f.kind in KINDS and f.message


def test_every_text_field_is_checked_and_list_items_are_named() -> None:
    guide = doc(
        type=DocType.GUIDE,
        title="13812345678",
        summary="机密★",
        keywords=["ok", "a@b.com"],
        materials=["身份证复印件", f"样表：{VALID_ID}"],
        steps=["受理", "内部资料"],
        conditions="E12345678",
        location="大厅",
        status_reason="x",
    )
    found = {(f.field, f.kind) for f in review(guide, [], TODAY)}
    assert {
        ("title", "mobile"),
        ("summary", "classification_marker"),
        ("keywords[1]", "email"),
        ("materials[1]", "id_card"),
        ("steps[1]", "classification_marker"),
        ("conditions", "passport"),
    } <= found
    item = next(f for f in review(guide, [], TODAY) if f.field == "materials[1]")
    assert guide.materials[1][item.start : item.end] == VALID_ID
    assert {name for name, _ in text_fields(guide)} >= {"title", "body", "summary", "materials[0]", "phone"}


def test_the_personal_kinds_are_pii_s() -> None:
    body = (
        f"身份证{VALID_ID}；手机138-1234-5678；家里电话010-12345678；卡号6222 0200 1234 5678 903；"
        "邮箱zhang.san@163.com；护照EA1234567。"
    )
    assert [k for k, _ in kinds(doc(body))] == [
        "id_card",
        "mobile",
        "landline",
        "bank_card",
        "email",
        "passport",
    ]


def test_numbers_that_are_not_personal_stay_unflagged() -> None:
    body = (
        "依据示府规〔2019〕3号，索引号11440300MB2C92134X/2024-00012，2026年10月12日起施行，工本费20元，"
        "补贴12345678元；办件编号HD202610120003；身份证号11010519491231002Y（校验位错）；"
        "订单2026101200001234；请拨打12345或95518、400-123-4567，或0755-12345。"
    )
    assert kinds(doc(body)) == []


def test_public_service_numbers_are_not_personal_data() -> None:
    guide = doc(
        type=DocType.GUIDE,
        phone="0799-86110110",
        materials=["身份证"],
        location="大厅",
        body="咨询电话：0799-86110110、0799-86110111；投诉邮箱 ts@shifan.gov.cn；服务热线（0755）88886666。",
    )
    assert kinds(guide) == []
    # a mobile is a person's number even after a service label; a person label cancels the service label
    assert kinds(doc("咨询电话：13812345678")) == [("mobile", "13812345678")]
    assert [k for k, _ in kinds(doc("咨询电话请找联系人：王芳，0799-86110110"))] == [
        "name_near_personal",
        "landline",
    ]
    # a service label in an earlier sentence does not carry over
    assert kinds(doc("咨询电话见上。家庭电话010-12345678")) == [("landline", "010-12345678")]


def test_service_number_lists_and_numbers_in_web_addresses() -> None:
    body = (
        "咨询电话：电话：020-37886901、020-37886902；广州：020-83100130；深圳：0755-88127587。"
        "咨询电话号码：020-86351132。諮詢電話：(02)2720-8889。"
        "网上办理：https://www.gdzwfw.gov.cn/portal/guide?hallId=764456135376764928 "
    )
    assert kinds(doc(body)) == []
    # a number after another contact's label, or in the next sentence, is not the service's
    assert kinds(doc("咨询电话：020-37886901，家庭电话：020-37886902")) == [("landline", "020-37886902")]
    assert kinds(doc("服务热线：0799-86110110。王芳手机13812345678")) == [
        ("name_near_personal", "王芳"),
        ("mobile", "13812345678"),
    ]
    # an e-mail address inside a link is still an e-mail address
    assert kinds(doc("https://x.gov.cn/?to=zhangsan@163.com")) == [("email", "zhangsan@163.com")]


@pytest.mark.parametrize(
    "body,name",
    [
        (f"申请人张三，身份证号{VALID_ID}", "张三"),
        ("市民王小明13812345678反映", "王小明"),
        ("姓名：李四 性别：男 手机：13812345678", "李四"),
        ("13812345678（赵六）", "赵六"),
        ("欧阳娜娜E12345678", "欧阳娜娜"),
        ("联系人：陈静，电子邮箱 chenjing@163.com", "陈静"),
    ],
)
def test_names_next_to_personal_data(body: str, name: str) -> None:
    assert ("name_near_personal", name) in kinds(doc(body))


@pytest.mark.parametrize(
    "body",
    [
        "请联系工作人员13812345678",
        "客服中心电话13812345678",
        "联系方式：13812345678",
        "王小明同学获得一等奖。",
    ],
)
def test_no_name_without_one(body: str) -> None:
    assert not any(k == "name_near_personal" for k, _ in kinds(doc(body)))


@pytest.mark.parametrize(
    "body,marker",
    [
        ("秘密★1年\n关于……的通知", "秘密★1年"),
        ("机密★\n", "机密★"),
        ("密级：秘密", "密级："),
        ("【内部】会议纪要", "内部"),
        ("（机密）", "机密"),
        ("内部资料 注意保存", "内部资料"),
        ("仅供内部参考", "仅供内部"),
        ("公开属性：不予公开", "公开属性：不予公开"),
        ("本件涉密，请勿外传", "本件涉密"),
        ("此件不公开", "此件不公开"),
        ("涉密\n正文", "涉密"),
        ("不宜公开的事项", "不宜公开"),
    ],
)
def test_classification_markers(body: str, marker: str) -> None:
    assert ("classification_marker", marker) in kinds(doc(body))


@pytest.mark.parametrize(
    "body",
    [
        "各单位要保守国家秘密，不得泄露商业秘密和个人隐私。",
        "加强内部管理和内部控制，单位内部审计。",
        "涉密人员出境应当经过批准。",
        "依法确定为国家秘密的政府信息，不予公开。",
        "国家秘密的密级分为绝密、机密、秘密三级。",
        "请注意保存缴费凭证。",
    ],
)
def test_words_in_rule_text_are_not_markers(body: str) -> None:
    assert kinds(doc(body)) == []


def test_negative_list_terms_match_anywhere_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "negative_list.txt"
    path.write_text(
        "# matters not to be published\n\n示范化工厂搬迁\nProject X\n  \n# 注释\n示范化工厂搬迁\n",
        encoding="utf-8",
    )
    terms = load_negative_list(path)
    assert terms == ["示范化工厂搬迁", "Project X"]
    found = kinds(doc("关于示范化工厂搬迁的说明；project x 进展"), terms)
    assert found == [("negative_list", "示范化工厂搬迁"), ("negative_list", "project x")]
    assert load_negative_list(tmp_path / "absent.txt") == []


def test_missing_catalog_elements() -> None:
    policy = doc(type=DocType.POLICY, issuer="", doc_no="", issued_on="")
    assert {(f.kind, f.field) for f in review(policy, [], TODAY)} == {
        ("missing_element", "doc_no"),
        ("missing_element", "issuer"),
        ("missing_element", "issued_on"),
    }
    guide = doc(type=DocType.GUIDE, materials=[], location="", online_url="")
    assert {f.field for f in review(guide, [], TODAY)} == {"materials", "location"}
    complete = doc(type=DocType.GUIDE, materials=["身份证"], online_url="https://x.gov.cn")
    assert review(complete, [], TODAY) == []
    assert all(f.text == "" and f.start == f.end == 0 for f in review(policy, [], TODAY))


def test_validity_past_and_replacement() -> None:
    known = {"T-2": doc(id="T-2")}
    old = doc(valid_until="2026-11-30", replaced_by="T-9")
    found = review(old, [], TODAY, lookup=known.get)
    assert [(f.kind, f.field, f.text) for f in found] == [
        ("validity_past", "valid_until", "2026-11-30"),
        ("broken_replacement", "replaced_by", "T-9"),
    ]
    assert review(doc(valid_until=TODAY, replaced_by="T-2"), [], TODAY, lookup=known.get) == []
    assert [f.kind for f in review(doc(replaced_by="T-1"), [], TODAY, lookup=known.get)] == [
        "broken_replacement"
    ]
    # without a lookup the replacement cannot be checked
    assert review(doc(replaced_by="T-9"), [], TODAY) == []


def test_finding_json_has_the_contract_keys() -> None:
    f = Finding("mobile", "13812345678", 2, 13, "body", "m")
    assert set(f.to_json()) == {"kind", "text", "start", "end", "field", "message"}


def test_civic_review_prints_findings_and_json(home: Path) -> None:
    paths = HomePaths(home)
    with Archive(paths.archive_db) as archive:
        archive.upsert(doc(f"身份证号{VALID_ID}，涉及示范化工厂搬迁。", status=Status.DRAFT))
        archive.upsert(doc("干净的正文。", id="T-OK"))
    paths.review_dir.mkdir(parents=True)
    paths.negative_list.write_text("示范化工厂搬迁\n", encoding="utf-8")
    result = run(home, "review", "T-1", "--json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [(d["kind"], d["text"], d["field"]) for d in data] == [
        ("id_card", VALID_ID, "body"),
        ("negative_list", "示范化工厂搬迁", "body"),
    ]
    body = f"身份证号{VALID_ID}，涉及示范化工厂搬迁。"
    assert all(body[d["start"] : d["end"]] == d["text"] for d in data)
    text = run(home, "review", "T-1")
    assert text.exit_code == 1 and "1. id_card  body[4:22]" in text.stdout
    clean = run(home, "review", "T-OK")
    assert clean.exit_code == 0 and clean.stdout == ""
    missing = run(home, "review", "NOPE")
    assert missing.exit_code != 0
