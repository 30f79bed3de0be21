"""Legacy Word (.doc) and WPS (.wps) files through an external converter: ``antiword`` (tried first) or
``catdoc``, whichever is on PATH (``apt-get install antiword catdoc``).  Without either the file is refused
with a message saying what to install.  The converter runs with a time limit and its output is capped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from archive.importers.text import UnreadableFile, decode

TIMEOUT_S = 60
MAX_OUTPUT = 16 * 1024 * 1024
# (program, arguments before the file): both print the text on stdout, in UTF-8 with these options
TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("antiword", ("-m", "UTF-8.txt", "-w", "0")),
    ("catdoc", ("-d", "utf-8", "-w")),
)


def available() -> list[str]:
    return [name for name, _ in TOOLS if shutil.which(name)]


def read_text(path: Path) -> str:
    """The text of a .doc/.wps file, from the first converter that reads it; raises UnreadableFile."""
    tools = [(shutil.which(name), name, args) for name, args in TOOLS]
    found = [(exe, name, args) for exe, name, args in tools if exe]
    if not found:
        raise UnreadableFile(f"{path.suffix.lower()} files need antiword or catdoc, and neither is "
                             "installed: install one (apt-get install antiword catdoc), or save the file "
                             "as DOCX or PDF")
    failures = []
    for exe, name, args in found:
        assert exe is not None
        try:
            done = subprocess.run([exe, *args, str(path)], capture_output=True, timeout=TIMEOUT_S,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            failures.append(f"{name} took longer than {TIMEOUT_S} s")
            continue
        except OSError as exc:
            failures.append(f"{name} did not start: {exc}")
            continue
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            failures.append(f"{name} failed ({message[-1] if message else f'exit {done.returncode}'})")
            continue
        if len(done.stdout) > MAX_OUTPUT:
            raise UnreadableFile(f"refused: {name} printed more than {MAX_OUTPUT:,} bytes for this file")
        text, _ = decode(done.stdout)
        lines = [line.strip() for line in text.replace("\f", "\n").splitlines()]
        text = "\n".join(line for line in lines if line)
        if text:
            return text
        failures.append(f"{name} found no text")
    raise UnreadableFile(f"not a readable {path.suffix.lower()} file: " + "; ".join(failures))
