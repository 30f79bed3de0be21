"""The planted test set of the review checks: recall on personal data and markers ≥ 99 %, precision ≥ 95 %.

The set is generated here from rules, with a fixed seed, so it is the same on every run: real-shaped ID
numbers (valid and wrong check digits), mobiles in every written form, landlines in private contexts,
Luhn-valid and -invalid card numbers, e-mail addresses, passport numbers, classification and handling
marks — and what must stay unflagged: 文号, 索引号, dates, amounts, application numbers, hotlines and public
service numbers, marker words in rule text, and ID/card-shaped numbers that fail their check.  Each item sits
in a sentence of its own (in the body, a title, a guide's list item or field), in a document of its own.

A planted item is found when a finding of its kind covers it (personal data: the exact text; markers: any
overlap).  Precision counts every personal-data and marker finding anywhere in the set.  Names next to
personal data are scored separately.  `pytest -q -s tests/archive/test_review_planted.py` prints the table
recorded in bench/REVIEW.md.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from archive.models import DocType, Document
from archive.review import MARKER, NAME, PERSONAL_KINDS, review

TODAY = "2026-12-01"
SEED = 13
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_REGIONS = (
    "110105",
    "310115",
    "440305",
    "440106",
    "360702",
    "510107",
    "330106",
    "420111",
    "610113",
    "230103",
    "350203",
    "120101",
    "500103",
    "650102",
    "450103",
)
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Planted:
    text: str  # the whole sentence
    item: str  # the planted piece ("" for a negative whose whole sentence must stay unflagged)
    kind: str  # expected kind, or "" when nothing may be flagged
    where: str = "body"  # body | title | materials | conditions


def _check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _id(rng: random.Random, want_x: bool = False) -> str:
    while True:
        birth = f"{rng.randint(1940, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        first = rng.choice(_REGIONS) + birth + f"{rng.randint(0, 999):03d}"
        check = _check_digit(first)
        if want_x == (check == "X"):
            return first + check


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def _card(rng: random.Random, length: int, valid: bool) -> str:
    prefix = rng.choice(("622202", "621700", "622848", "436742", "625965", "621226"))
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digit = _luhn_digit(body)
    if not valid:
        digit = str((int(digit) + rng.randint(1, 9)) % 10)
    return body + digit


def _group(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def planted() -> list[Planted]:
    rng = random.Random(SEED)
    items: list[Planted] = []

    def add(template: str, item: str, kind: str, where: str = "body") -> None:
        items.append(Planted(template.format(item), item, kind, where))

    # ---- personal data that must be flagged
    id_templates = (
        "申请人身份证号码：{}，请核对。",
        "公民身份号码{}已登记。",
        "证件号 {} 的申请已受理。",
        "经核查，{}号居民符合条件。",
        "（身份证：{}）",
    )
    for i in range(40):
        number = _id(rng, want_x=i % 8 == 0 or i % 10 == 3)
        if i % 10 == 3:
            number = number[:-1] + number[-1].lower()
        if i % 10 == 7:
            number = number.translate(_FULL)
        add(id_templates[i % len(id_templates)], number, "id_card", ("body", "title", "materials")[i % 3])
    mobile_forms = (
        lambda n: n,
        lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
        lambda n: f"{n[:3]} {n[3:7]} {n[7:]}",
        lambda n: f"+86 {n}",
        lambda n: f"+86-{n[:3]} {n[3:7]} {n[7:]}",
        lambda n: f"86{n}",
        lambda n: f"0086 {n}",
        lambda n: n.translate(_FULL),
    )
    for i in range(32):
        number = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        add(
            ("联系手机{}，工作日可拨打。", "本人手机：{}。", "来电号码 {} 已回访。", "手机号{}")[i % 4],
            mobile_forms[i % len(mobile_forms)](number),
            "mobile",
            ("body", "conditions")[i % 2],
        )
    for i in range(20):
        area = rng.choice(("010", "021", "020", "0755", "0799", "0571", "028"))
        local = f"{rng.randint(2, 8)}{rng.randint(0, 9_999_999):07d}"
        form = (
            f"{area}-{local}",
            f"（{area}）{local}",
            f"({area}){local}",
            f"{area} {local[:4]} {local[4:]}",
            f"{area}-{local[:4]}-{local[4:]}",
        )[i % 5]
        add(
            ("家庭电话{}。", "住宅电话：{}", "其单位电话为{}，请转告。", "办公电话 {}")[i % 4],
            form,
            "landline",
        )
    for i in range(26):
        number = _card(rng, (16, 19)[i % 2], valid=True)
        add(
            ("银行卡号：{}。", "补贴发放至账户{}。", "开户账号 {}")[i % 3],
            _group(number) if i % 3 == 1 else number,
            "bank_card",
        )
    users = ("zhangsan", "li.si88", "wangxm_2019", "chenjing", "liu-yang", "a.b.c", "zhao6", "sun.qi")
    domains = ("163.com", "qq.com", "126.com", "gmail.com", "sina.com.cn", "example.org")
    for i in range(20):
        address = f"{users[i % len(users)]}{rng.randint(1, 999)}@{domains[i % len(domains)]}"
        add(("本人邮箱：{}。", "请将材料发送至个人邮箱{}", "E-mail: {}")[i % 3], address, "email")
    for i in range(20):
        number = (
            f"E{rng.randint(0, 99_999_999):08d}",
            f"E{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(0, 9_999_999):07d}",
            f"G{rng.randint(0, 99_999_999):08d}",
            f"{rng.choice(('DE', 'SE', 'PE'))}{rng.randint(0, 9_999_999):07d}",
        )[i % 4]
        add(("护照号码：{}。", "持普通护照（{}）出境。", "护照号{}")[i % 3], number, "passport")
    # ---- markers that must be flagged
    for text, item in (
        ("秘密★1年\n示范市关于……的通知", "秘密★1年"),
        ("机密★长期\n", "机密★长期"),
        ("绝密★\n正文", "绝密★"),
        ("秘密 ★ 5年", "秘密 ★ 5年"),
        ("密级：机密", "密级："),
        ("保密期限：十年", "保密期限："),
        ("内部资料（第5期）", "内部资料"),
        ("内部文件，仅供参考", "内部文件"),
        ("内部使用", "内部使用"),
        ("内部刊物（第3期）", "内部刊物"),
        ("内部传阅", "内部传阅"),
        ("仅供内部参考", "仅供内部"),
        ("仅限内部使用", "仅限内部"),
        ("【内部】会议纪要", "内部"),
        ("（内部）", "内部"),
        ("[机密]", "机密"),
        ("〔秘密〕关于……", "秘密"),
        ("涉密\n正文", "涉密"),
        ("（涉密）事项清单", "涉密"),
        ("公开属性：不予公开", "公开属性：不予公开"),
        ("公开方式：不公开", "公开方式：不公开"),
        ("本件涉密，请妥善保管", "本件涉密"),
        ("此件不予公开", "此件不予公开"),
        ("本文件属内部", "本文件属内部"),
        ("请勿外传", "请勿外传"),
        ("严禁外传", "严禁外传"),
        ("不得外传", "不得外传"),
        ("不宜公开的事项", "不宜公开"),
        ("暂缓公开", "暂缓公开"),
        ("注意保存\n", "注意保存"),
        ("国家秘密\n", "国家秘密"),
        ("“不予公开”", "不予公开"),
    ):
        items.append(Planted(text, item, MARKER, "title" if "\n" not in text and len(text) < 8 else "body"))

    # ---- negatives: nothing in these may be flagged
    negatives: list[str] = []
    for _ in range(30):  # an ID number with a wrong check digit
        number = _id(rng)
        wrong = rng.choice([c for c in "0123456789X" if c != number[-1]])
        negatives.append(f"身份证号码：{number[:-1]}{wrong}（校验位错）")
    for i in range(20):  # card-shaped numbers that fail Luhn
        number = _card(rng, (16, 19)[i % 2], valid=False)
        negatives.append(f"订单编号{_group(number) if i % 2 else number}")
    issuers = ("示府规", "示府办发", "国办发", "粤府函", "示人社发", "示民发", "赣府字", "示公通")
    for i in range(20):
        negatives.append(
            f"根据《办法》（{issuers[i % len(issuers)]}〔{rng.randint(2005, 2026)}〕"
            f"{rng.randint(1, 300)}号）执行。"
        )
    for _ in range(20):
        code = f"11{rng.randint(100000, 999999)}MB{rng.randint(0, 9_999_999):07d}{rng.choice('0123456789X')}"
        negatives.append(f"索引号：{code}/{rng.randint(2015, 2026)}-{rng.randint(1, 99999):05d}")
    for _ in range(15):
        y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
        negatives.append(
            rng.choice(
                (
                    f"{y}-{m:02d}-{d:02d}起施行",
                    f"{y}年{m}月{d}日发布",
                    f"{y}/{m}/{d}",
                    f"自{y}{m:02d}{d:02d}起",
                    f"有效期至{y}.{m:02d}.{d:02d}",
                )
            )
        )
    for _ in range(15):
        negatives.append(
            rng.choice(
                (
                    f"工本费{rng.randint(5, 200)}元",
                    f"补贴{rng.randint(1000, 99_999_999)}元",
                    f"人民币{rng.randint(1, 999):,}{rng.randint(100, 999)}.{rng.randint(0, 99):02d}元",
                    f"投资{rng.randint(1, 9999)}万元",
                    f"共计{rng.randint(10_000_000, 99_999_999)}元",
                )
            )
        )
    for i in range(10):
        negatives.append(f"办件编号HD2026{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{i:04d}")
    negatives += [
        "请拨打12345政务服务热线。",
        "客服电话95518。",
        "报警请拨110，火警119。",
        "服务热线400-123-4567。",
        "免费电话800-810-1234。",
        "咨询电话：0755-12345。",
        "咨询电话：0799-86110110。",
        "服务热线（0755）88886666。",
        "投诉电话：010-12388，举报邮箱：jubao@shifan.gov.cn。",
        "政务服务热线12345转1。",
        "咨询热线0799-87651520、0799-87651521。",
        "信访邮箱 xinfang@shifan.gov.cn",
        "值班电话：0799-86110000",
        "预约电话(0799)83312333",
        "监督电话 021-12345678。",
        "热线：020-83338333",
        "请拨打96888。",
        "12315消费者投诉热线",
        "办事电话：0571-87654321",
        "受理电话 028-86123456",
    ]
    negatives += [
        "各单位要保守国家秘密。",
        "不得泄露商业秘密和个人隐私。",
        "加强内部管理。",
        "健全内部控制制度。",
        "单位内部审计。",
        "涉密人员出境应当经过批准。",
        "依法确定为国家秘密的政府信息，不予公开。",
        "国家秘密的密级分为绝密、机密、秘密三级。",
        "请注意保存缴费凭证。",
        "机关内部设立办公室。",
        "按照保密法做好定密工作。",
        "涉密信息系统按等级保护。",
        "企业内部培训。",
        "工作秘密不得公开谈论。",
        "内部挂号系统升级。",
        "对秘密载体进行登记。",
        "属于国家秘密的，按照有关规定办理。",
        "不予公开的，应当告知理由。",
        "申请公开的信息不存在的，告知申请人。",
        "公开方式：主动公开",
        "公开属性：依申请公开",
        "保密审查后发布。",
        "内部装修期间暂停营业。",
        "涉密载体不得邮寄。",
        "商业秘密受法律保护。",
    ]
    negatives += ["型号E1234567", "航班号CE1234567", "产品代码F12345678", "批次号E123456789"]
    items += [
        Planted(text, "", "", ("body", "title", "materials", "conditions")[i % 4])
        for i, text in enumerate(negatives)
    ]
    return items


# names next to personal data, scored apart: (sentence, name) — "" = no name may be flagged
NAMES: tuple[tuple[str, str], ...] = (
    ("申请人张三，身份证号{id}", "张三"),
    ("市民王小明13812345678反映", "王小明"),
    ("姓名：李四 性别：男 手机：13912345678", "李四"),
    ("13712345678（赵六）", "赵六"),
    ("欧阳娜娜护照E12345678", "欧阳娜娜"),
    ("联系人：陈静，电子邮箱 chenjing@163.com", "陈静"),
    ("户主刘德明，身份证{id}", "刘德明"),
    ("黄丽 13612345678", "黄丽"),
    ("经办人：周杰 电话010-12345678", "周杰"),
    ("持卡人：吴芳，卡号{card}", "吴芳"),
    ("请联系工作人员13812345678", ""),
    ("客服中心电话13812345678", ""),
    ("联系方式：13812345678", ""),
    ("窗口咨询13812345678", ""),
    ("本人手机13812345678", ""),
    ("或发送邮件至wx@163.com", ""),
)


def _doc(i: int, p: Planted) -> Document:
    fields: dict[str, object] = {
        "id": f"PL-{i:04d}",
        "title": "测试",
        "body": "正文。",
        "type": DocType.FAQ,
        "issuer": "示范市政务服务管理局",
    }
    if p.where == "materials":
        fields.update(type=DocType.GUIDE, materials=["申请表", p.text], location="大厅")
    elif p.where == "conditions":
        fields.update(type=DocType.GUIDE, materials=["申请表"], location="大厅", conditions=p.text)
    else:
        fields[p.where] = p.text
    return Document(**fields)  # type: ignore[arg-type]


@dataclass
class Score:
    planted: Counter[str]
    found: Counter[str]
    false_positives: list[tuple[str, str, str]]
    flagged: int

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / sum(self.planted.values())

    @property
    def precision(self) -> float:
        return (self.flagged - len(self.false_positives)) / self.flagged


def score() -> Score:
    planted_by, found_by = Counter[str](), Counter[str]()
    false_positives: list[tuple[str, str, str]] = []
    flagged = 0
    for i, p in enumerate(planted()):
        findings = [f for f in review(_doc(i, p), [], TODAY) if f.kind in (*PERSONAL_KINDS, MARKER)]
        flagged += len(findings)
        hit = None
        if p.kind:
            planted_by[p.kind] += 1
            field_text = p.text
            begin = field_text.index(p.item)
            span = (begin, begin + len(p.item))
            for f in findings:
                exact = f.text == p.item and (f.start, f.end) == span
                overlap = p.kind == MARKER and f.start < span[1] and span[0] < f.end
                if f.kind == p.kind and (exact or overlap):
                    hit = f
                    break
            if hit is not None:
                found_by[p.kind] += 1
        false_positives += [(p.text, f.kind, f.text) for f in findings if f is not hit]
    return Score(planted_by, found_by, false_positives, flagged)


def test_the_set_is_big_enough() -> None:
    items = planted()
    positives = [p for p in items if p.kind]
    assert len(items) >= 200 and len(positives) >= 150 and len(items) - len(positives) >= 150
    assert set(PERSONAL_KINDS) | {MARKER} == {p.kind for p in positives}


def test_recall_and_precision() -> None:
    result = score()
    print(f"\n{'kind':24} planted  found  recall")
    for kind, n in sorted(result.planted.items()):
        print(f"{kind:24} {n:7d} {result.found[kind]:6d}  {result.found[kind] / n:.3f}")
    print(
        f"{'all':24} {sum(result.planted.values()):7d} {sum(result.found.values()):6d}  {result.recall:.3f}"
    )
    print(
        f"items {len(planted())}, findings {result.flagged}, false positives {len(result.false_positives)}, "
        f"precision {result.precision:.3f}"
    )
    for text, kind, found in result.false_positives:
        print(f"  false positive {kind} {found!r} in {text!r}")
    missed = [
        p
        for p in planted()
        if p.kind
        and not any(
            f.kind == p.kind and (f.text == p.item or p.kind == MARKER) for f in review(_doc(0, p), [], TODAY)
        )
    ]
    for p in missed:
        print(f"  missed {p.kind} {p.item!r} in {p.text!r}")
    assert result.recall >= 0.99
    assert result.precision >= 0.95


def test_names_next_to_personal_data() -> None:
    rng = random.Random(SEED)
    ident, card = _id(rng), _card(rng, 16, valid=True)
    hits = misses = wrong = 0
    for template, name in NAMES:
        text = template.format(id=ident, card=card)
        names = [f.text for f in review(_doc(0, Planted(text, "", "")), [], TODAY) if f.kind == NAME]
        if name:
            hits += name in names
            misses += name not in names
        wrong += sum(1 for n in names if n != name)
    print(f"\nnames: {hits} of {hits + misses} found, {wrong} wrong")
    assert misses == 0 and wrong == 0
