"""Word 2007+ (.docx) through python-docx: the section headers, then the body's paragraphs and tables in
document order (a table row becomes one line, its cells separated by a tab).

The zip container is checked first (archive.importers.container: size caps, no DTDs in any XML part).
"""

from __future__ import annotations

import io
import re
from typing import Any

from archive.importers.container import check_xml, open_zip, read_member
from archive.importers.text import UnreadableFile

_WHAT = "DOCX"
_SPACES = re.compile(r"[ \u3000\xa0]+")


def _check(data: bytes) -> None:
    archive = open_zip(data, _WHAT)
    names = archive.namelist()
    if "word/document.xml" not in names:
        raise UnreadableFile("not a DOCX file: the zip has no word/document.xml")
    for name in names:
        if name.endswith((".xml", ".rels")):
            check_xml(read_member(archive, name, _WHAT), name)


def _table_lines(table: Any) -> list[str]:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(p.text.strip() for p in cell.paragraphs if p.text.strip())
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        if cells:
            lines.append("\t".join(cells))
    return lines


def read_text(data: bytes) -> str:
    """The text of a DOCX file; raises UnreadableFile."""
    _check(data)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        seen_headers: set[str] = set()
        for section in document.sections:
            for paragraph in section.header.paragraphs:
                text = paragraph.text.strip()
                if text and text not in seen_headers:
                    seen_headers.add(text)
                    lines.append(text)
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_lines(block))
            else:
                lines.append(block.text)
    except UnreadableFile:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds on a damaged file
        raise UnreadableFile(f"not a readable DOCX file: {type(exc).__name__}: {exc}") from exc
    cleaned = [_SPACES.sub(" ", line).strip() for line in lines]
    text = "\n".join(line for line in cleaned if line)
    if not text:
        raise UnreadableFile("the DOCX file has no text")
    return text
