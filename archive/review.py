"""The checks a document passes before it is published (保密审查): what a reviewer must look at.

:func:`review` reads every text field of a document — title, body, summary, each keyword, every guide field
and each item of a list field, the catalog elements, the status reason — and returns a :class:`Finding` per
problem, with ``start``/``end`` offsets into that field's text (``field`` is ``"body"``,
``"materials[2]"`` …), so a page can highlight it in place.  Kinds:

* personal data — ``id_card``, ``mobile``, ``landline``, ``bank_card``, ``email``, ``passport``: exactly what
  ``core.pii`` masks in chat (one rule per fact: the ID check digit, Luhn, the number boundaries), so 文号,
  索引号, dates, amounts and application numbers are not flagged.  One exception, for publishing only:
  **a public service number is not personal data**.  That is a landline or an e-mail address that is the
  guide's 咨询电话 (the ``phone`` field), or that follows a service label in the same sentence (咨询电话,
  服务热线, 投诉电话, 举报邮箱, 热线 …, Simplified or Traditional, within the 120 characters before it)
  with only other numbers, separators and short place names between (「咨询电话：020-1…；广州：020-2…」)
  — no person label (联系人, 姓名, 申请人 …) and no other contact's label (家庭电话, 手机, 邮箱 …).  A
  number inside a web address (``…?hallId=7644…``) is not read as anyone's either.  Short hotlines
  (12345, 95518, 110), 400/800 numbers and an area code with a short service number (0755-12345) are never
  read as personal data in the first place.  A mobile is a person's number even after a service label,
  and is flagged.
* ``name_near_personal`` — a Chinese name (a common surname and one or two more characters) right before a
  piece of personal data (「王小明 13812345678」, 「张三身份证号…」, 「李四（手机：…）」) or after a person
  label (姓名、联系人、申请人 …) within the 40 characters before it.
* ``classification_marker`` — a document's secrecy or handling mark, not the words in prose.  Always:
  绝密/机密/秘密 with ★ (「秘密★1年」), 密级： and 保密期限：, 内部资料/文件/使用/刊物/传阅/发行/参阅,
  仅供内部, 请勿/严禁/不得外传, 不宜公开, 暂缓公开, a disclosure label (公开属性：不予公开), and
  此件/本件/本文件 followed within a few characters by 涉密, 不予公开, 不公开 or 内部.  The bare words
  绝密, 机密, 秘密, 内部, 涉密, 不予公开, 注意保存, 国家秘密 only when they stand alone as a mark — on a
  line of their own, between spaces or in brackets (「【内部】」, 「（机密）」).  So rule text is not
  flagged: 「保守国家秘密」, 「商业秘密」, 「内部管理」, 「涉密人员」,
  「依法确定为国家秘密的政府信息，不予公开」, 「密级分为绝密、机密、秘密三级」, 「请注意保存缴费凭证」.
* ``negative_list`` — a term of the city's negative list (``<home>/review/negative_list.txt``, one term a
  line, ``#`` starts a comment line; matched literally, Latin letters in any case).
* ``missing_element`` — a catalog element the document type needs: a policy's 文号, 发文机关 and 发文日期;
  a guide's 实施主体 (issuer), 办理材料 and where to apply (办理地点 or 网上办理); an FAQ's issuer.  The
  finding's ``field`` names the missing field, its text is empty.
* ``extracted_element`` — "extracted — check": a catalog element an importer read out of the file's text
  rather than from given metadata (``Document.extracted``: a PDF/DOCX/OFD file without a sidecar giving
  it); one finding per element, ``field`` names it and ``text`` is the value read, so a reviewer compares it
  with the document before approving.
* ``validity_past`` — ``valid_until`` is before ``today``.
* ``broken_replacement`` — ``replaced_by`` names a document that is not in the archive, or the document
  itself (only when the caller passes ``lookup``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from archive.models import GUIDE_FIELDS, DocType, Document
from core import pii

__all__ = [
    "KINDS",
    "PERSONAL_KINDS",
    "Finding",
    "in_url",
    "is_service_contact",
    "load_negative_list",
    "review",
    "text_fields",
]

PERSONAL_KINDS: tuple[str, ...] = ("id_card", "mobile", "landline", "bank_card", "email", "passport")
NAME = "name_near_personal"
MARKER = "classification_marker"
NEGATIVE = "negative_list"
MISSING = "missing_element"
EXTRACTED = "extracted_element"
VALIDITY = "validity_past"
REPLACEMENT = "broken_replacement"
KINDS: tuple[str, ...] = (*PERSONAL_KINDS, NAME, MARKER, NEGATIVE, MISSING, EXTRACTED, VALIDITY, REPLACEMENT)

_PERSONAL_MESSAGES = {
    "id_card": "ID number (身份证号) with a valid GB 11643 check digit",
    "mobile": "mobile phone number (手机号)",
    "landline": "landline number (固定电话) that is not labelled as a public service number",
    "bank_card": "bank card number (银行卡号) that passes the Luhn check",
    "email": "e-mail address (邮箱) that is not labelled as a public service address",
    "passport": "passport number (护照号)",
}

# catalog text fields checked besides title, body, summary, keywords and the guide fields
_CATALOG_FIELDS = ("issuer", "doc_no", "index_no", "topic", "genre", "audience", "url", "status_reason")


@dataclass(frozen=True)
class Finding:
    """One problem: its kind, the text found (empty for a missing element), where it is in ``field``'s text
    and what a reviewer should know."""

    kind: str
    text: str
    start: int
    end: int
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def text_fields(doc: Document) -> Iterator[tuple[str, str]]:
    """(field, text) for every text of a document the checks read; a list item is ``name[i]``."""
    yield "title", doc.title
    yield "body", doc.body
    yield "summary", doc.summary
    for i, keyword in enumerate(doc.keywords):
        yield f"keywords[{i}]", keyword
    for name in GUIDE_FIELDS:
        value = getattr(doc, name)
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{name}[{i}]", str(item)
        else:
            yield name, str(value)
    for name in _CATALOG_FIELDS:
        yield name, getattr(doc, name)


def load_negative_list(path: Path) -> list[str]:
    """The terms of a negative-list file (one a line, blank lines and ``#`` comment lines skipped); a file
    that does not exist is an empty list."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    terms = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(t for t in terms if t and not t.startswith("#")))


# -- personal data ------------------------------------------------------------------------------------

_SERVICE_LABEL = re.compile(
    r"(?:咨询|諮詢|服务|服務|投诉|投訴|举报|舉報|监督|監督|受理|预约|預約|值班|办事|辦事|求助|信访|信訪|政务|政務)"
    r"(?:电话|電話|热线|熱線|专线|專線|邮箱|郵箱|信箱)|热线|熱線"
)
_PERSON_LABEL = re.compile(
    r"联系人|聯絡人|姓名|申请人|申請人|当事人|經辦人|经办人|本人|户主|戶主|监护人|委托人|代理人|收件人"
)
# another contact's label between the service label and the number: the number is that contact's
_OTHER_LABEL = re.compile(
    r"电话|電話|手机|手機|邮箱|郵箱|信箱|号码|號碼|联系方式|聯絡方式|e-?mail", re.IGNORECASE
)
_LABEL_TAIL = re.compile(r"^(?:号码|號碼)?[：:\s]*(?:(?:电话|電話)(?:查询|查詢)?[：:\s]*)?")
_SENTENCE_END = re.compile(r"[。！!？?\n]")
_URL = re.compile(r"(?:https?://|www\.)[^\s，。；、）)」』\"”<>]+", re.IGNORECASE)


def is_service_contact(found: pii.Found, field: str, text: str) -> bool:
    """Whether a landline or e-mail address is a public service contact (module docstring): the guide's
    咨询电话 field, or after a service label in the same sentence with only other numbers, separators and
    short place names (「广州：」) between — no person label, no other contact's label."""
    if found.kind not in ("landline", "email"):
        return False
    if field == "phone":
        return True
    before = text[max(0, found.start - 120) : found.start]
    ends = list(_SENTENCE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    labels = list(_SERVICE_LABEL.finditer(before))
    if not labels:
        return False
    # the label may go on: 「咨询电话号码：」, 「咨询电话：电话：」, 「咨询电话：电话查询（…」
    between = _LABEL_TAIL.sub("", before[labels[-1].end() :], count=1)
    between = _SERVICE_LABEL.sub("", between)
    runs = re.findall(r"[\u4e00-\u9fff]+", between)
    other = _PERSON_LABEL.search(between) or _OTHER_LABEL.search(between)
    return not (other or any(len(r) > 4 for r in runs))


def in_url(found: pii.Found, text: str) -> bool:
    """Whether a number sits inside a web address (a query id such as ``hallId=7644…`` is nobody's number);
    e-mail addresses are never skipped."""
    if found.kind == "email":
        return False
    return any(m.start() <= found.start and found.end <= m.end() for m in _URL.finditer(text))


_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "慕容", "令狐", "夏侯", "长孙")
# characters that end a word rather than a name (「王的」, 「张号」 are not names)
_NOT_IN_NAME = frozenset("的了在是和与及或等号码电话手机卡证件身份邮箱护照为由向对请拨打联系")
_HAN = re.compile(r"[\u4e00-\u9fff]+$")
# what may sit between a name and the number that follows it: punctuation and the number's label
_LINK = re.compile(
    r"(?:[，,、：:\s（(]|的)*"
    r"(?:(?:公民)?身份证?(?:号码|号)?|证件号码?|手机(?:号码|号)?|联系电话|电话(?:号码)?|联系方式|银行卡号?|卡号"
    r"|账号|电子邮箱|邮箱|护照(?:号码|号)?|号码)?"
    r"(?:[，,、：:\s（(]|为|是)*$"
)
_LABELLED_NAME = re.compile(
    r"(?:姓名|联系人|申请人|当事人|经办人|负责人|户主|法定代表人|监护人|委托人|代理人|收件人|持卡人|开户名|户名)"
    r"[:：\s]*([\u4e00-\u9fff]{2,4})"
)


def _name_at_end(run: str) -> str:
    """The name a run of Han characters ends with (surname + one or two characters), or ""."""
    for length in (4, 3, 2):
        if len(run) < length:
            continue
        tail = run[-length:]
        if length == 4 and tail[:2] not in _COMPOUND_SURNAMES:
            continue
        if length < 4 and tail[0] not in _SURNAMES and tail[:2] not in _COMPOUND_SURNAMES:
            continue
        if any(ch in _NOT_IN_NAME for ch in tail[1:]):
            continue
        return tail
    return ""


def _name_at_start(run: str) -> str:
    for surname_len in (2, 1):
        surname = run[:surname_len]
        if (surname_len == 2 and surname not in _COMPOUND_SURNAMES) or (
            surname_len == 1 and surname not in _SURNAMES
        ):
            continue
        given = ""
        for ch in run[surname_len : surname_len + 2]:
            if ch in _NOT_IN_NAME:
                break
            given += ch
        if given:
            return surname + given
    return ""


def _names_near(text: str, found: pii.Found) -> Iterator[tuple[int, int]]:
    before = text[max(0, found.start - 16) : found.start]
    link = _LINK.search(before)
    head = before[: link.start()] if link else before
    run = _HAN.search(head)
    if run:
        name = _name_at_end(run.group())
        if name:
            end = found.start - (len(before) - len(head))
            yield end - len(name), end
    window_start = max(0, found.start - 40)
    for match in _LABELLED_NAME.finditer(text, window_start, found.start):
        name = _name_at_start(match.group(1))
        if name:
            yield match.start(1), match.start(1) + len(name)
    after = re.match(r"[\s]*[（(][\s]*(?:联系人|姓名|户主|持卡人)?[:：\s]*([\u4e00-\u9fff]{2,4})[）)]",
                     text[found.end : found.end + 12])
    if after:
        name = _name_at_start(after.group(1))
        if name == after.group(1):
            start = found.end + after.start(1)
            yield start, start + len(name)


def _personal(field: str, text: str) -> list[Finding]:
    out: list[Finding] = []
    names: dict[tuple[int, int], str] = {}
    for found in pii.find(text):
        if is_service_contact(found, field, text) or in_url(found, text):
            continue
        out.append(Finding(found.kind, found.text, found.start, found.end, field,
                           _PERSONAL_MESSAGES[found.kind]))
        for span in _names_near(text, found):
            names.setdefault(span, found.kind)
    taken = [(f.start, f.end) for f in out]
    for (start, end), kind in names.items():
        if any(start < high and low < end for low, high in taken):
            continue
        taken.append((start, end))
        label = _PERSONAL_MESSAGES[kind].split(" (")[0]
        message = f"a name next to personal data: {label}"
        out.append(Finding(NAME, text[start:end], start, end, field, message))
    return out


# -- classification markers ----------------------------------------------------------------------------

_MARKS_ANYWHERE = re.compile(
    r"(?:绝密|机密|秘密)[ 　]*[★☆＊*][ 　]*(?:[0-9一二三四五六七八九十]+年|长期)?"
    r"|密级\s*[:：]|保密期限\s*[:：]"
    r"|内部(?:资料|文件|使用|刊物|传阅|发行|参阅)|仅(?:供|限)内部"
    r"|(?:请勿|严禁|不得)外传|不宜公开|暂缓公开"
    r"|公开(?:属性|方式|类型|选项)\s*[:：]\s*(?:不予公开|不公开)"
    r"|(?:此件|本件|本文件)[^。；\n]{0,4}?(?:涉密|不予公开|不公开|内部)"
)
_OPEN = r"(?:^|(?<=[\s【\[（(〔<《「『\"“]))"
_CLOSE = r"(?=$|[\s】\]）)〕>》」』\"”])"
_MARKS_ALONE = re.compile(
    rf"{_OPEN}(?:国家秘密|不予公开|注意保存|绝密|机密|秘密|内部|涉密){_CLOSE}", re.MULTILINE
)


def _markers(field: str, text: str) -> list[Finding]:
    spans: list[tuple[int, int]] = []
    for pattern in (_MARKS_ANYWHERE, _MARKS_ALONE):
        for m in pattern.finditer(text):
            if not any(m.start() < high and low < m.end() for low, high in spans):
                spans.append(m.span())
    return [Finding(MARKER, text[a:b], a, b, field, "classification or handling marker (密级/内部/不予公开)")
            for a, b in spans]


# -- negative list --------------------------------------------------------------------------------------

def _negative_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(re.escape(t) for t in cleaned), re.IGNORECASE)


def _negative(field: str, text: str, pattern: re.Pattern[str] | None) -> list[Finding]:
    if pattern is None:
        return []
    return [Finding(NEGATIVE, m.group(), m.start(), m.end(), field, "a term on the city's negative list")
            for m in pattern.finditer(text)]


# -- catalog elements -----------------------------------------------------------------------------------

_REQUIRED: dict[DocType, tuple[tuple[str, str], ...]] = {
    DocType.POLICY: (("doc_no", "a policy without 文号"), ("issuer", "a policy without 发文机关"),
                     ("issued_on", "a policy without 发文日期")),
    DocType.GUIDE: (("issuer", "a guide without 实施主体 (issuer)"),
                    ("materials", "a guide without 办理材料")),
    DocType.FAQ: (("issuer", "an FAQ answer without the agency that answers it (issuer)"),),
}


def _missing(doc: Document) -> list[Finding]:
    out = [Finding(MISSING, "", 0, 0, name, message)
           for name, message in _REQUIRED.get(doc.type, ()) if not getattr(doc, name)]
    if doc.type == DocType.GUIDE and not (doc.location.strip() or doc.online_url.strip()):
        out.append(Finding(MISSING, "", 0, 0, "location", "a guide without 办理地点 or 网上办理"))
    return out


_ELEMENT_NAMES = {"title": "名称 title", "doc_no": "文号", "issuer": "发文机关 issuer",
                  "issued_on": "发文日期 date"}


def _extracted(doc: Document) -> list[Finding]:
    out = []
    for name in doc.extracted:
        value = str(getattr(doc, name, "") or "")
        if value:
            label = _ELEMENT_NAMES.get(name, name)
            out.append(Finding(EXTRACTED, value, 0, len(value), name,
                               f"extracted — check: the importer read this {label} out of the file's text"))
    return out


def review(doc: Document, negative_list: Iterable[str], today: str, *,
           lookup: Callable[[str], Document | None] | None = None) -> list[Finding]:
    """Every finding for ``doc`` on ``today`` (ISO date), field by field in reading order, then the
    document-level ones.  ``lookup`` (the archive's ``find``) enables the replacement check."""
    pattern = _negative_pattern(negative_list)
    findings: list[Finding] = []
    for field, text in text_fields(doc):
        if not text:
            continue
        here = _personal(field, text) + _markers(field, text) + _negative(field, text, pattern)
        findings += sorted(here, key=lambda f: (f.start, f.end))
    findings += _missing(doc)
    findings += _extracted(doc)
    if doc.valid_until and doc.valid_until < today:
        findings.append(Finding(VALIDITY, doc.valid_until, 0, len(doc.valid_until), "valid_until",
                                f"the validity ended on {doc.valid_until}"))
    target = doc.replaced_by.strip()
    if target and lookup is not None:
        if target == doc.id:
            findings.append(Finding(REPLACEMENT, target, 0, len(target), "replaced_by",
                                    "the document names itself as its replacement"))
        elif lookup(target) is None:
            findings.append(Finding(REPLACEMENT, target, 0, len(target), "replaced_by",
                                    f"the replacement {target!r} is not in the archive"))
    return findings
