"""Read a file's bytes as text: UTF-8 (with or without BOM) first, else the detected encoding (GB18030…)."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from core.errors import InvalidInput

# GBK and GB2312 are subsets of GB18030: decode with the superset so rare characters survive.
_SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "hz": "gb18030"}


class UnreadableFile(InvalidInput, ValueError):
    """The file cannot be decoded or parsed as a whole (a ValueError too, for parsers that raise those)."""


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name) for ``data``; raises UnreadableFile when no encoding fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    candidates = []
    if best is not None:
        name = best.encoding.lower().replace("_", "")
        candidates.append(_SUPERSETS.get(name, best.encoding))
    candidates.append("gb18030")  # the usual non-UTF-8 encoding of mainland government files
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    raise UnreadableFile("not UTF-8 and no other encoding fits")


def read_text(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    return decode(data)
