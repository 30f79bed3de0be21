"""Personal data in citizen text: finding it and masking it before the text is stored, logged or sent on.

A citizen's message often carries a 身份证号, a 手机号 or a 银行卡号 ("我的身份证号……，手机……，想投诉……").
This module owns the one definition of what counts as such a number, so the history store, the application
logs and the dialogue engine all see the same ``〔手机号〕`` in its place.

Kinds, each found by one compiled pattern plus a cheap check:

* ``id_card``   — an 18-character resident ID (GB 11643) whose check digit is right and whose digits 7-14
  read as a plausible birth date.  The check digit is what keeps 文号 (示府规〔2019〕3号), 索引号
  (11440300MB2C92134X/2024-00012), dates, application numbers (HD202610120003) and order numbers unflagged.
* ``bank_card`` — 16 to 19 digits, bare or in groups of four, that pass the Luhn check.  A grouped number
  that fails it is nobody's: no mobile or landline is read out of its groups.
* ``mobile``    — ``1[3-9]`` and nine more digits, optionally after +86 / 86 / 0086, also as 138 1234 5678
  or 138-1234-5678.
* ``landline``  — only the separated forms 010-12345678, 0755 8888 6666 and (010)12345678 / （0755）88886666;
  hotlines such as 12345 or 95518 and bare eight-digit numbers are left alone.
* ``email``     — ``local@domain.tld``.
* ``passport``  — a PRC passport number: ``E`` and eight digits (ordinary, since 2012), ``E``, a letter (not I
  or O) and seven digits (ordinary, since the E-numbers ran out), ``G`` and eight digits (older ordinary),
  ``DE``/``SE``/``PE`` and seven digits (diplomatic, service, official).  Upper-case letters only, and like
  every other kind never inside a longer run of letters or digits, so 索引号 (…MB2C92134X…), 文号 and
  application numbers (HD2026…) are not read as one.

No number may sit inside a longer run of digits or letters.  Full-width digits (１３８…) count as digits.
When two readings overlap the longer one wins, and between readings of the same length the order is
email, id_card, bank_card, mobile, landline, passport.  The placeholders hold no digit and no ``@``, so
masking is idempotent.  Text without a digit and without ``@`` is returned at once.

What a caller says about themselves (``caller=True``; the hotline's transcripts and work orders, where
the speech is the citizen's own): two more kinds, placeholders in ``CALLER_PLACEHOLDERS``.  Off by default,
because a published document's 「办理地点：中山路88号」 is a public address and the chat's contact vault
keeps numbers only.

* ``name``          — the name after a self-introduction: 我叫 / 本人叫 / 我的名字叫 (two or three Han
  characters, ending before a particle or a verb: 「我叫张伟想问一下」 → 张伟), 我姓 / 免贵姓 (the surname,
  one character or a compound surname such as 欧阳, and a full name after it: 「我姓王，叫王小明」).
* ``house_number``  — a door number: 「3栋2单元501室」, 「十号楼」, 「502室」, and the number after a road,
  street or lane (「中山路88号」 → 中山路〔门牌号〕: the road stays, it is a place).  Dates (「5月3号」)
  and 文号 (「〔2019〕3号」) have no building word or road before the number and stay.

:class:`MaskingFilter` applies the same masking to log records; attach it to a *handler* (a logger's own
filters do not see records propagated from child loggers).  :func:`mask_log_records` masks every record of
a process where it is made, whatever handler writes it: the app (``civic app-worker``), the supervisor
(``civic serve``) and the engine (``engine/launch.py``) all install it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

__all__ = [
    "CALLER_PLACEHOLDERS",
    "PLACEHOLDERS",
    "Found",
    "MaskingFilter",
    "MaskingFormatter",
    "contains_personal",
    "find",
    "install_log_masking",
    "luhn_ok",
    "mask",
    "mask_log_records",
    "mask_with",
    "valid_id_card",
]

PLACEHOLDERS: dict[str, str] = {
    "id_card": "〔身份证号〕",
    "mobile": "〔手机号〕",
    "landline": "〔电话〕",
    "bank_card": "〔银行卡号〕",
    "email": "〔邮箱〕",
    "passport": "〔护照号〕",
}

# what a caller says about themselves (``caller=True``)
CALLER_PLACEHOLDERS: dict[str, str] = {
    "name": "〔姓名〕",
    "house_number": "〔门牌号〕",
}

# between readings of equal length, the lower rank wins
_RANK: dict[str, int] = {"email": 0, "id_card": 1, "bank_card": 2, "mobile": 3, "landline": 4, "passport": 5,
                         "house_number": 6, "name": 7}

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # a digit doubled, its two digits summed

_D = "[0-9０-９]"  # a digit, half- or full-width (not \d, which takes every script's digits)
_NOT_AFTER = r"(?<![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"  # the match does not continue a run of digits or letters
_NOT_BEFORE = r"(?![0-9A-Za-z０-９Ａ-Ｚａ-ｚ])"  # nor is it continued by one

_QUICK = re.compile(r"[0-9０-９@]")
_ID_CARD = re.compile(rf"{_NOT_AFTER}{_D}{{17}}[0-9０-９XxＸｘ]{_NOT_BEFORE}")
_BANK_CARD = re.compile(
    rf"{_NOT_AFTER}(?:{_D}{{16,19}}"
    rf"|{_D}{{4}}(?P<sep>[- ]){_D}{{4}}(?P=sep){_D}{{4}}(?P=sep){_D}{{4}}(?P<tail>(?P=sep){_D}{{1,3}})?)"
    rf"{_NOT_BEFORE}"
)
# "+86" may follow anything (a "+" cannot continue a number); "86" / "0086" and a bare number may not
_MOBILE = re.compile(
    rf"(?:\+86[- ]?|{_NOT_AFTER}(?:0086|86)[- ]?|{_NOT_AFTER})"
    rf"[1１][3-9３-９]{_D}(?:[- ]?{_D}{{4}}){{2}}{_NOT_BEFORE}"
)
_LANDLINE = re.compile(
    rf"(?:{_NOT_AFTER}[0０]{_D}{{2,3}}[- ]|[(（][0０]{_D}{{2,3}}[)）][- ]?)"
    rf"{_D}{{3,4}}[- ]?{_D}{{4}}{_NOT_BEFORE}"
)
_PASSPORT = re.compile(rf"{_NOT_AFTER}(?:[EG]{_D}{{8}}|E[A-HJ-NP-Z]{_D}{{7}}|[DSP]E{_D}{{7}}){_NOT_BEFORE}")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)


_HAN = "\u4e00-\u9fff"
# a name ends before one of these (a particle, a pronoun, a verb a caller goes on with)
_NAME_STOP = "的了吗呢啊呀吧哈嘛我你他她想要在住家是有就打今昨电手身这那跟和找问说给住反映投诉咨询"
_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
                      "司徒", "令狐", "夏侯", "端木", "独孤", "南宫", "西门", "澹台", "申屠")
_GIVEN = rf"[{_HAN}](?:(?![{_NAME_STOP}])[{_HAN}]){{1,2}}"
_CALLED = re.compile(rf"(?:我|本人)(?:的)?(?:名字)?(?:叫|名叫)(?:做)?\s*(?P<name>(?![{_NAME_STOP}]){_GIVEN})")
_SURNAMED = re.compile(
    rf"(?:我|本人|免贵)姓\s*(?P<surname>{'|'.join(_COMPOUND_SURNAMES)}|[{_HAN}])"
    rf"(?:[，,、 ]*(?:叫|名叫|全名)\s*(?P<name>(?![{_NAME_STOP}]){_GIVEN}))?"
)
_NUM = "[0-9０-９一二三四五六七八九十百零〇两]"
_HOUSE = re.compile(
    rf"{_NOT_AFTER}(?:{_NUM}+(?:号楼|栋|幢|座)(?:{_NUM}+单元)?(?:{_NUM}+(?:室|号房|户))?"
    rf"|{_NUM}+单元(?:{_NUM}+(?:室|号房|户|号))?"
    rf"|{_NUM}+(?:室|号房))"
    rf"|(?<=[路街巷弄道里])[0-9０-９]+(?:-[0-9０-９]+)?号(?:院)?"
)


def _caller_candidates(text: str) -> list[Found]:
    found: list[Found] = []
    for m in _CALLED.finditer(text):
        found.append(Found("name", m.start("name"), m.end("name"), m.group("name")))
    for m in _SURNAMED.finditer(text):
        found.append(Found("name", m.start("surname"), m.end("surname"), m.group("surname")))
        if m.group("name"):
            found.append(Found("name", m.start("name"), m.end("name"), m.group("name")))
    found += [Found("house_number", m.start(), m.end(), m.group()) for m in _HOUSE.finditer(text)]
    return found


@dataclass(frozen=True)
class Found:
    """One piece of personal data: its kind, where it is in the text and the text as it appeared."""

    kind: str  # "id_card" | "mobile" | "landline" | "bank_card" | "email" | "passport"
    start: int
    end: int
    text: str


def valid_id_card(number: str) -> bool:
    """An 18-character resident ID number whose GB 11643 check digit is right (x or X for ten) and whose
    digits 7-14 read as a birth date (year 1900-2100, month 01-12, day 01-31).  Full-width digits are read
    as digits; anything else (spaces, a 15-digit old number) is not an ID number."""
    number = number.translate(_FULL_WIDTH)
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    check = number[17].upper()
    if check != "X" and not (check.isascii() and check.isdigit()):
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not (1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == check


def luhn_ok(digits: str) -> bool:
    """Whether a card number passes the Luhn check.  Spaces and dashes between groups are ignored; any other
    character, or fewer than two digits, fails."""
    digits = digits.translate(_FULL_WIDTH).replace(" ", "").replace("-", "")
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2].translate(_LUHN_DOUBLED)))
    return total % 10 == 0


def _candidates(text: str) -> list[Found]:
    """Every reading of every kind, overlapping ones included."""
    found: list[Found] = []
    if "@" in text:
        found += [Found("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]
    for m in _ID_CARD.finditer(text):
        if valid_id_card(m.group()):
            found.append(Found("id_card", m.start(), m.end(), m.group()))
    # a card-shaped grouped number that fails Luhn is no one's number: the 「0200 1234 5678」 inside
    # 「6222 0200 1234 5678 904」 is not a landline
    not_cards: list[tuple[int, int]] = []
    for m in _BANK_CARD.finditer(text):
        number = m.group()
        if not luhn_ok(number):
            if not m.group("sep"):
                continue
            # 「4111 1111 1111 1111 5元」: the first sixteen digits may be the card
            number = number[: m.start("tail") - m.start()] if m.group("tail") else ""
            if not luhn_ok(number):
                not_cards.append(m.span())
                continue
        found.append(Found("bank_card", m.start(), m.start() + len(number), number))
    for kind, pattern in (("mobile", _MOBILE), ("landline", _LANDLINE), ("passport", _PASSPORT)):
        for m in pattern.finditer(text):
            start, end = m.span()
            if not any(low <= start and end <= high for low, high in not_cards):
                found.append(Found(kind, start, end, m.group()))
    return found


def find(text: str, *, caller: bool = False) -> list[Found]:
    """The personal data in a text, non-overlapping and in text order (see the module docstring for which
    reading wins when two overlap); ``caller`` adds names after a self-introduction and house numbers."""
    candidates = _candidates(text) if _QUICK.search(text) else []
    if caller:
        candidates += _caller_candidates(text)
    if len(candidates) <= 1:
        return candidates
    candidates.sort(key=lambda f: (f.start - f.end, _RANK[f.kind], f.start))
    kept: list[Found] = []
    for candidate in candidates:
        if all(candidate.end <= other.start or other.end <= candidate.start for other in kept):
            kept.append(candidate)
    kept.sort(key=lambda f: f.start)
    return kept


def mask_with(text: str, *, caller: bool = False) -> tuple[str, list[Found]]:
    """The text with every piece of personal data replaced by its placeholder, and what was replaced."""
    found = find(text, caller=caller)
    if not found:
        return text, found
    parts: list[str] = []
    position = 0
    for item in found:
        parts.append(text[position : item.start])
        parts.append(PLACEHOLDERS.get(item.kind) or CALLER_PLACEHOLDERS[item.kind])
        position = item.end
    parts.append(text[position:])
    return "".join(parts), found


def mask(text: str, *, caller: bool = False) -> str:
    """The text with every piece of personal data replaced by its placeholder (「〔手机号〕」 and so on);
    ``caller`` masks a caller's name and house number too."""
    return mask_with(text, caller=caller)[0]


def contains_personal(text: str) -> bool:
    """Whether the text holds any personal data that :func:`mask` would replace."""
    return bool(find(text))


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data in every record's message and lets the record through.

    The message is formatted here (``record.getMessage()``), masked, and stored back as ``record.msg`` with
    ``record.args`` cleared, so no handler ever formats the raw arguments.  A message that cannot be formatted
    (a non-string with arguments, arguments that do not fit) is taken as ``str(record.msg)``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            try:
                message = str(record.msg)
            except Exception:
                message = f"<unprintable {type(record.msg).__name__}>"
        record.msg = mask(message)
        record.args = None
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter whose whole output — message, traceback and stack — is masked: an exception raised over a
    citizen's text (``ValueError('bad input 13812345678')``) must not put the number into the log either."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


_MASKED_FACTORY = "_civic_masked"


def mask_log_records() -> None:
    """Mask every log record of this process where it is made: the record factory masks the message (and
    a traceback, formatted once into ``exc_text``) before any filter, handler or formatter sees it.  So a
    handler someone adds later (Rasa's and Sanic's own, aiohttp's access log, a library's) cannot write a
    raw number either.  Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, _MASKED_FACTORY, False):
        return
    plain = logging.Formatter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        MaskingFilter().filter(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(plain.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return record

    setattr(factory, _MASKED_FACTORY, True)
    logging.setLogRecordFactory(factory)


def install_log_masking(fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s",
                        level: int = logging.INFO) -> None:
    """Configure the root logger (like ``logging.basicConfig``) so every handler masks personal data: the
    records are masked where they are made (:func:`mask_log_records`) and the root's handlers' whole
    output once more (:class:`MaskingFormatter`)."""
    mask_log_records()
    logging.basicConfig(level=level, format=fmt)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
        handler.setFormatter(MaskingFormatter(fmt))
