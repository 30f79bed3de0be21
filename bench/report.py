"""Writing a bench report: the measured part is rewritten, the hand-written notes after the marker kept."""

from __future__ import annotations

from pathlib import Path

NOTES_MARK = "<!-- notes: kept when the bench rewrites this file -->"


def write_report(path: Path, text: str) -> None:
    """Write the measured part; whatever follows the notes marker in the existing file is kept."""
    notes = ""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if NOTES_MARK in old:
            notes = old[old.index(NOTES_MARK):]
    path.write_text(text.rstrip() + "\n\n" + (notes or NOTES_MARK + "\n"), encoding="utf-8")
