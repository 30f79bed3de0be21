"""OFD (GB/T 33190, the standard format of official electronic documents): a zip of XML parts.

``OFD.xml`` names the document root (``DocBody/DocRoot``, e.g. ``Doc_0/Document.xml``); that lists the pages
(``Pages/Page@BaseLoc``); each page's ``Content.xml`` holds ``TextObject`` elements (``Boundary="x y w h"``)
whose ``TextCode`` children (``X``, ``Y`` relative to the boundary) carry the text.  The text is read in
reading order: page by page, and on a page line by line (codes whose baselines lie within half a font size of
each other form one line), left to right.  Elements are matched by local name, so both namespaces found in
real files — ``http://www.ofdspec.org`` and ``http://www.ofdspec.org/2016`` — and files without one work.
Templates, annotations, signatures and images are not read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from archive.importers.container import open_zip, parse_xml, read_member
from archive.importers.text import UnreadableFile

NAMESPACES = ("http://www.ofdspec.org", "http://www.ofdspec.org/2016")
MAX_PAGES = 2000
_WHAT = "OFD"


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _namespace(tag: Any) -> str:
    text = str(tag)
    return text[1:].split("}", 1)[0] if text.startswith("{") else ""


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if _local(child.tag) == name]


def _descendants(element: Any, name: str) -> list[Any]:
    return [node for node in element.iter() if _local(node.tag) == name]


def _numbers(value: str | None, count: int) -> list[float]:
    try:
        found = [float(v) for v in (value or "").replace(",", " ").split()]
    except ValueError:
        found = []
    return (found + [0.0] * count)[:count]


def _resolve(base_dir: str, loc: str) -> str:
    """A location inside the zip: absolute (``/Doc_0/…``) from the root, else relative to ``base_dir``."""
    loc = loc.strip().replace("\\", "/")
    joined = loc.lstrip("/") if loc.startswith("/") else posixpath.join(base_dir, loc)
    normal = posixpath.normpath(joined)
    if normal.startswith("../") or normal == "..":
        raise UnreadableFile(f"not a valid OFD file: the location {loc!r} points outside the container")
    return normal


@dataclass
class _Code:
    x: float
    y: float
    size: float
    text: str


def _page_codes(root: Any) -> list[_Code]:
    codes: list[_Code] = []
    for obj in _descendants(root, "TextObject"):
        bx, by, _w, _h = _numbers(obj.get("Boundary"), 4)
        size = _numbers(obj.get("Size"), 1)[0] or 3.5
        last_x, last_y = 0.0, 0.0
        for code in _children(obj, "TextCode"):
            text = "".join(code.itertext())
            if not text.strip():
                continue
            # X / Y may be left out on later codes of the same object: they continue where the last one was
            x = _numbers(code.get("X"), 1)[0] if code.get("X") is not None else last_x
            y = _numbers(code.get("Y"), 1)[0] if code.get("Y") is not None else last_y
            last_x, last_y = x, y
            codes.append(_Code(bx + x, by + y, size, text))
    return codes


def _lines(codes: list[_Code]) -> list[str]:
    lines: list[list[_Code]] = []
    for code in sorted(codes, key=lambda c: (c.y, c.x)):
        if lines and abs(code.y - lines[-1][0].y) <= max(code.size, lines[-1][0].size) / 2:
            lines[-1].append(code)
        else:
            lines.append([code])
    return ["".join(c.text for c in sorted(line, key=lambda c: c.x)).strip() for line in lines]


def read_text(data: bytes) -> str:
    """The text of an OFD file, page by page in reading order; raises UnreadableFile."""
    archive = open_zip(data, _WHAT)
    names = set(archive.namelist())
    if "OFD.xml" not in names:
        raise UnreadableFile("not an OFD file: the zip has no OFD.xml (is it another zip-based format?)")
    root = parse_xml(read_member(archive, "OFD.xml", _WHAT), "OFD.xml")
    if _local(root.tag) != "OFD" or _namespace(root.tag) not in ("", *NAMESPACES):
        raise UnreadableFile("not an OFD file: OFD.xml is not an <ofd:OFD> document of "
                             + " or ".join(NAMESPACES))
    doc_roots = [node for body in _children(root, "DocBody") for node in _children(body, "DocRoot")]
    if not doc_roots or not (doc_roots[0].text or "").strip():
        raise UnreadableFile("not a valid OFD file: OFD.xml names no DocBody/DocRoot")
    doc_path = _resolve("", doc_roots[0].text or "")
    document = parse_xml(read_member(archive, doc_path, _WHAT), doc_path)
    base = posixpath.dirname(doc_path)
    pages = [page for pages in _children(document, "Pages") for page in _children(pages, "Page")]
    if len(pages) > MAX_PAGES:
        raise UnreadableFile(f"refused: the OFD file has {len(pages)} pages (at most {MAX_PAGES})")
    out: list[str] = []
    for page in pages:
        loc = page.get("BaseLoc") or ""
        if not loc.strip():
            continue
        path = _resolve(base, loc)
        content = parse_xml(read_member(archive, path, _WHAT), path)
        out.extend(line for line in _lines(_page_codes(content)) if line)
    return "\n".join(out)
