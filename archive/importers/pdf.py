"""PDF through pypdf: the text layer, page by page.

Refused with a clear message, never a crash: a file that is not a PDF, a truncated one (no ``%%EOF`` near
its end), an encrypted one that does not open with the empty password, one pypdf cannot parse, one with
more than :data:`MAX_PAGES` pages, and one without a text layer (a scan needs OCR first).
"""

from __future__ import annotations

import io
import logging
import re

from archive.importers.text import UnreadableFile

MAX_PAGES = 2000
_TAIL = 4096  # %%EOF must be in the last bytes of a complete file
_SPACES = re.compile(r"[ \t\u3000\xa0]+")


def read_text(data: bytes) -> str:
    """The text of a PDF file; raises UnreadableFile."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if not data.lstrip()[:1024].startswith(b"%PDF-"):
        raise UnreadableFile("not a PDF file (no %PDF- header)")
    if b"%%EOF" not in data[-_TAIL:]:
        raise UnreadableFile("the PDF file is truncated (no %%EOF at its end): copy or download it again")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about sloppy files are not ours
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("the PDF file is encrypted (password-protected): save an unprotected copy "
                                 "and import that")
        if len(reader.pages) > MAX_PAGES:
            raise UnreadableFile(f"refused: the PDF file has {len(reader.pages)} pages (at most {MAX_PAGES})")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except FileNotDecryptedError as exc:
        raise UnreadableFile("the PDF file is encrypted (password-protected): save an unprotected copy "
                             "and import that") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
            NotImplementedError, OSError) as exc:
        raise UnreadableFile(f"not a readable PDF file: {type(exc).__name__}: {exc}") from exc
    lines = [_SPACES.sub(" ", line).strip() for page in pages for line in page.splitlines()]
    text = "\n".join(line for line in lines if line)
    if not text:
        raise UnreadableFile("the PDF file has no text layer (a scanned image?): run OCR on it first")
    return text
