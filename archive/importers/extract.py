"""Catalog elements read out of a document's text when no sidecar gives them (the layout of GB/T 9704
official documents): 文号, the issuing agency, the date and the title.  A reviewer checks every element
found this way (``Document.extracted``, the review's ``extracted_element`` finding).

* 文号 — ``示政发〔2024〕12号`` and its variants (``[2024]``, ``［2024］``, ``（2024）``, ``第12号``) as a
  line of its own (a 签发人 may follow it) among the first lines (the 版头); a 文号 cited in a sentence
  (「根据国发〔2020〕5号……」) is not it.
* the date — a line that is only a date, ``二〇二四年三月五日`` or ``2024年3月5日`` (full-width digits too):
  the last such line (the 成文日期 under the signature), else none.
* the issuing agency — the signature line right above that date; else the 版头 line without its
  ``文件`` (「示范市人民政府文件」); else the agency the title begins with (「示范市人民政府关于……」).
* the title — the first heading-like line after the 版头 and the 文号 (not the addressee line ending in
  「：」, no sentence punctuation at its end), joined with the next one or two lines when it wraps before its
  closing word (通知, 意见, 办法 …).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

HEAD_LINES = 10  # the 文号 is looked for in this many first lines
_DOC_NO = re.compile(
    r"^\s*([\u4e00-\u9fff]{1,12}[〔\[［【(（]\s*((?:19|20)\d{2})\s*[〕\]］】)）]\s*第?\s*\d{1,6}\s*号)"
    r"\s*(?:签发人.*)?$"
)  # the line is the 文号 (with the 签发人 beside it, in an upward report)
_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_DATE = re.compile(r"([〇零○ＯO一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月"
                      r"\s*([一二三四五六七八九十]{1,3})\s*日")
_AR_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_BRACKETS = "()（）〔〕[]【】 \u3000"
_AGENCY_END = re.compile(
    r"(?:人民政府|政府|委员会|办公室|办公厅|人民代表大会常务委员会|常务委员会|局|厅|委|部|院|署|会|中心|公司|处|所|站"
    r"|队|室|办|行|馆|社)$"
)
_TITLE_END = re.compile(
    r"(?:通知|通报|通告|公告|意见|办法|规定|决定|方案|规划|细则|条例|批复|报告|函|指南|纲要|规则|措施|决议|命令|公报"
    r"|纪要|议案|请示|答复|目录|清单|标准|计划|要点)[)）]?$"
)
_NOT_TITLE_END = "。；;：:，,、！!？?"
_MARKS = re.compile(r"^(?:特急|加急|急件|平急|特提|\d{6}|[\u4e00-\u9fff]?密.*|签发人.*|.*★.*)$")


def _cn_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 三十一 → 31."""
    if "十" not in text:
        return _CN_DIGITS.get(text, -1) if len(text) == 1 else -1
    tens, _, ones = text.partition("十")
    value = (_CN_DIGITS.get(tens, -1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, -1) if ones else 0)
    return value if value > 0 else -1


def parse_date(text: str) -> str:
    """ISO date for a Chinese date (二〇二四年三月五日, 2024年3月5日, full-width digits), or "" when none."""
    text = unicodedata.normalize("NFKC", text)
    match = _AR_DATE.search(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _CN_DATE.search(text)
        if not match:
            return ""
        year = int("".join(str(_CN_DIGITS[c]) for c in match.group(1)))
        month, day = _cn_number(match.group(2)), _cn_number(match.group(3))
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


def _date_line(line: str) -> str:
    """The date when ``line`` is nothing but a date (brackets allowed), else ""."""
    bare = unicodedata.normalize("NFKC", line).strip(_BRACKETS)
    for pattern in (_AR_DATE, _CN_DATE):
        if pattern.fullmatch(bare):
            return parse_date(bare)
    return ""


def _agency(line: str) -> str:
    line = line.strip()
    if 2 < len(line) <= 40 and _AGENCY_END.search(line) and not any(c in line for c in "，。；：:,、"):
        return line
    return ""


def elements(text: str) -> dict[str, str]:
    """The elements found in ``text``: any of ``doc_no``, ``issuer``, ``issued_on`` (ISO), ``title``."""
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    found: dict[str, str] = {}
    doc_no_at = -1
    for n, line in enumerate(lines[:HEAD_LINES]):
        match = _DOC_NO.match(line)
        if match:
            found["doc_no"] = re.sub(r"\s+", "", match.group(1))
            doc_no_at = n
            break
    header = ""
    for line in lines[: max(doc_no_at, 0) + 3]:
        if line.endswith("文件") and _agency(line[:-2]):
            header = line[:-2]
            break
    date_at = -1
    for n in range(len(lines) - 1, -1, -1):
        iso = _date_line(lines[n])
        if iso:
            found["issued_on"], date_at = iso, n
            break
    title, title_at = _title(lines, doc_no_at)
    if title:
        found["title"] = title
    signature = ""
    if date_at > 0 and date_at - 1 > title_at:
        signature = _agency(lines[date_at - 1])
    by_title = ""
    if "关于" in title:
        by_title = _agency(title.split("关于", 1)[0])
    issuer = signature or header or by_title
    if issuer:
        found["issuer"] = issuer
    return found


def _title(lines: list[str], doc_no_at: int) -> tuple[str, int]:
    start = doc_no_at + 1 if doc_no_at >= 0 else 0
    for n in range(start, min(len(lines), start + HEAD_LINES)):
        line = lines[n]
        if (line.endswith("文件") and _agency(line[:-2])) or _MARKS.match(line) or _DOC_NO.match(line):
            continue
        if len(line) < 4 or len(line) > 80 or line[-1] in _NOT_TITLE_END or _date_line(line):
            continue
        title, last = line, n
        while not _TITLE_END.search(title) and last + 1 < len(lines) and last - n < 2:
            following = lines[last + 1]
            if following[-1] in _NOT_TITLE_END or _date_line(following) or len(title + following) > 100:
                break
            title, last = title + following, last + 1
        if not _TITLE_END.search(title):
            title, last = line, n  # no closing word found: the first line alone
        return title, last
    return "", -1
