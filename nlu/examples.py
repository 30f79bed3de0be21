"""Reading intent examples back out of Rasa NLU training files (the hand-written ones and the generated ones).

Used where the examples are examined rather than trained on: the training-data consistency tests and the
quick cross-validation estimate (bench/nlu_quick.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from archive.demo import seed_demo
from archive.store import Archive
from core.settings import REPO_ROOT
from nlu.generate import prepare_training

_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, plain text) for every example in a Rasa NLU file, entity annotations reduced to their text."""
    out = []
    for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
        if "intent" in block:
            out += [(block["intent"], _ANNOTATION.sub(r"\1", line[2:]).strip())
                    for line in block["examples"].splitlines() if line.startswith("- ")]
    return out


def demo_training_examples(work: Path) -> tuple[list[tuple[str, str]], Path]:
    """The repo's hand-written examples plus those generated from the demo corpus (an archive built in
    ``work``), and the generated jieba user dictionary."""
    archive = Archive(work / "archive.db")
    seed_demo(archive)
    inputs = prepare_training(archive, REPO_ROOT, work / "gen")
    files = [*sorted((REPO_ROOT / "data" / "nlu").glob("*.yml")), inputs.data[-1]]  # hand-written + generated
    return [pair for path in files for pair in read_examples(path)], work / "gen" / "jieba" / "userdict.txt"
