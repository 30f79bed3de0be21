"""Text normalisation shared by documents and queries.

Everything the indexes see goes through :func:`normalize`: Unicode NFKC (full-width ASCII → half-width,
compatibility ideographs → unified), Traditional → Simplified Chinese with Taiwan phrase conversion
(OpenCC ``tw2sp``: 臺北→台北, 軟體→软件, 資訊→信息, plus a few variants it leaves alone: 身分→身份),
lower case and collapsed whitespace.  Because both sides are mapped to the same Simplified form, a
Traditional query finds a Simplified document and the reverse.  Queries additionally lose the polite
fillers citizens type (您好, 请问, 我想问一下, 谢谢…), see :func:`normalize_query`.

The OpenCC converter is created lazily once per process (it is small, ~20 ms) and is thread-safe for
``convert``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

_converter_lock = threading.Lock()
_converter: Any = None

# Tried in order: the Taiwan phrase-aware config first, plain t2s as a fallback (older OpenCC builds name
# their configs with a .json suffix).
_OPENCC_CONFIGS = ("tw2sp", "tw2sp.json", "t2s", "t2s.json")

_WS = re.compile(r"\s+")

# Cross-strait variants OpenCC leaves alone (after conversion to Simplified): Taiwan usage → mainland usage.
_VARIANTS = {"身分": "身份", "户口名簿": "户口簿", "影本": "复印件"}
_VARIANT_RE = re.compile("|".join(re.escape(k) for k in sorted(_VARIANTS, key=len, reverse=True)))

# Polite fillers, in Simplified form (queries are converted before fillers are removed).  Longest first so
# that 我想问一下 wins over 我想问.  They carry no information about the document sought.
_FILLERS = sorted(
    {
        "您好", "你好", "哈喽",
        "请问一下", "请问下", "请问", "想请问", "借问一下", "借问",
        "我想问一下", "我想问下", "我想问问", "我想问", "想问一下", "想问下", "问一下", "问下",
        "麻烦问一下", "麻烦问下", "麻烦您", "麻烦你", "麻烦一下", "麻烦了",
        "我想咨询一下", "我想咨询下", "想咨询一下", "咨询一下", "我想了解一下", "想了解一下",
        "请教一下", "请教", "打扰一下", "打扰了", "不好意思", "劳驾",
        "谢谢您", "谢谢你", "谢谢了", "谢谢", "多谢", "感谢", "非常感谢", "麻烦",
    },
    key=len,
    reverse=True,
)
_FILLER_RE = re.compile("|".join(re.escape(f) for f in _FILLERS))
_EDGE_PUNCT = re.compile(r"^[\s,，。.!！?？、~～:：;；]+|[\s,，。.!！~～:：;；]+$")


def _opencc() -> Any:
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc

                last: Exception | None = None
                for name in _OPENCC_CONFIGS:
                    try:
                        _converter = opencc.OpenCC(name)
                        break
                    except Exception as exc:  # a config missing from this OpenCC build
                        last = exc
                else:
                    raise RuntimeError(f"no usable OpenCC config among {_OPENCC_CONFIGS}") from last
    return _converter


def warm_up() -> None:
    """Create the converter now (called from ``Retriever.warm_up``)."""
    _opencc()


def to_simplified(text: str) -> str:
    """Simplified Chinese in mainland usage: OpenCC, then the variants it leaves alone (身分证 → 身份证).
    Everything that compares Chinese text calls this (the indexes, the NLU lemmas, the name lookups), so
    that they agree; the result may be of another length than ``text``."""
    return _VARIANT_RE.sub(lambda m: _VARIANTS[m.group(0)], str(_opencc().convert(text)))


def normalize(text: str) -> str:
    """The canonical form of any text for indexing and matching."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    text = text.lower()
    return _WS.sub(" ", text).strip()


def strip_fillers(text: str) -> str:
    """Remove polite fillers from an already normalised query; never returns an empty query."""
    stripped = _FILLER_RE.sub(" ", text)
    stripped = _EDGE_PUNCT.sub("", _WS.sub(" ", stripped)).strip()
    return stripped or text


def normalize_query(text: str) -> str:
    """Normalise a citizen's query: :func:`normalize` and then the fillers removed."""
    return strip_fillers(normalize(text))
