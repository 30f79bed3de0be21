"""Guards for the zip + XML containers (DOCX, OFD): a capped read of every member, and XML without DTDs.

A zip bomb is refused before anything is inflated: the declared sizes of all members together must stay
under a cap, and every member is read through :func:`read_member`, which stops at that cap whatever the
header says.  XML with a document type declaration (the way to entity tricks such as "billion laughs" or
external entities) is refused outright — neither DOCX nor OFD ever needs one; defusedxml is used as well
when it is installed.
"""

from __future__ import annotations

import importlib
import io
import re
import zipfile
from typing import Any
from xml.etree import ElementTree

from archive.importers.text import UnreadableFile

MAX_UNZIPPED = 64 * 1024 * 1024  # all members together, inflated
MAX_MEMBERS = 5000
MAX_RATIO = 200  # inflated / compressed, for members larger than 1 MB inflated
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

_SafeTree: Any
try:  # pragma: no cover - depends on what is installed
    _SafeTree = importlib.import_module("defusedxml.ElementTree")
except ImportError:  # pragma: no cover
    _SafeTree = None


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The zip archive in ``data``, after the size checks; ``what`` names the format in messages."""
    if not data.startswith(b"PK"):
        raise UnreadableFile(f"not a {what} file (not a zip container)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnreadableFile(f"not a readable {what} file: the zip container is damaged or truncated "
                             f"({exc})") from exc
    if len(infos) > MAX_MEMBERS:
        raise UnreadableFile(f"refused: the {what} container has {len(infos)} members "
                             f"(at most {MAX_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED:
        raise UnreadableFile(f"refused: the {what} container would inflate to {total:,} bytes "
                             f"(at most {MAX_UNZIPPED:,}; a zip bomb?)")
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise UnreadableFile(f"refused: {info.filename!r} in the {what} container is compressed "
                                 f"{info.file_size // max(info.compress_size, 1)}:1 (a zip bomb?)")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, what: str, cap: int = MAX_UNZIPPED) -> bytes:
    """One member's bytes, never more than ``cap`` inflated (the header's size is not trusted)."""
    try:
        with archive.open(name) as member:
            data = member.read(cap + 1)
    except KeyError as exc:
        raise UnreadableFile(f"not a valid {what} file: {name!r} is missing") from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise UnreadableFile(f"not a readable {what} file: {name!r} is damaged ({exc})") from exc
    if len(data) > cap:
        raise UnreadableFile(f"refused: {name!r} in the {what} file inflates past {cap:,} bytes")
    return data


def check_xml(data: bytes, name: str) -> None:
    """Refuse XML with a DTD or entity declaration."""
    if _DTD.search(data):
        raise UnreadableFile(f"refused: {name} declares a DTD or entities (not allowed in this format)")


def parse_xml(data: bytes, name: str) -> Any:
    """The root element of ``data`` (an ElementTree element); no DTDs, entities or external references."""
    check_xml(data, name)
    try:
        if _SafeTree is not None:  # pragma: no cover - depends on what is installed
            return _SafeTree.fromstring(data, forbid_dtd=True)
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise UnreadableFile(f"not well-formed XML in {name}: {exc}") from exc
    except ValueError as exc:  # defusedxml's own refusals (DTDForbidden, EntitiesForbidden …)
        raise UnreadableFile(f"refused XML in {name}: {type(exc).__name__}") from exc
