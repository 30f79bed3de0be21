"""A JSON file holding an array of objects (or one object). Positions are reported as the line number
of the element's first character, found while decoding element by element."""

from __future__ import annotations

import json
from collections.abc import Iterator

from archive.importers.base import RawRecord
from archive.importers.text import UnreadableFile

_decoder = json.JSONDecoder()


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def read(text: str) -> Iterator[RawRecord]:
    pos = _skip(text, 0)
    if text.startswith("{", pos):
        yield from _one(text, pos)
        return
    if not text.startswith("[", pos):
        raise UnreadableFile("a JSON file must hold an array of objects or one object")
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        line = text.count("\n", 0, pos) + 1
        try:
            data, pos = _decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # the array itself is broken: nothing after this point can be trusted
            raise UnreadableFile(f"not valid JSON at line {exc.lineno}: {exc.msg}") from exc
        except RecursionError as exc:  # deep nesting ([[[[…): a crash before
            raise UnreadableFile(f"not valid JSON at line {line}: nested too deeply") from exc
        if isinstance(data, dict):
            yield RawRecord(line, data)
        else:
            yield RawRecord(line, error=f"expected a JSON object, got {type(data).__name__}")
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif text.startswith("]", pos):
            return
        else:
            raise UnreadableFile(f"not valid JSON at line {text.count(chr(10), 0, pos) + 1}: expected , or ]")


def _one(text: str, pos: int) -> Iterator[RawRecord]:
    try:
        data, _ = _decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise UnreadableFile("not valid JSON: nested too deeply") from exc
    yield RawRecord(text.count("\n", 0, pos) + 1, data)
