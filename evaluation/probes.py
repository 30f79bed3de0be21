"""A second development set: the demo corpus and the citizen messages of the acceptance probes.

The Taipei set (../shared/data/taipei-faq) asks with an FAQ's own question for its answer, whose title is only
a department's name; it cannot measure what a service guide's names, keywords and English names are worth.
The frozen probe messages (tests/acceptance/*.yml: colloquial Simplified, Traditional and English messages
written for the probes, each with the guide or policy its answer must cite) can.  This writes them in the
format of ``civic evaluate``:

    python -m evaluation.probes --out /tmp/probes      # → /tmp/probes/docs.jsonl, /tmp/probes/qrels.jsonl
    civic evaluate --docs /tmp/probes/docs.jsonl --qrels /tmp/probes/qrels.jsonl \
        --signals lexical,dense,hybrid

It is small (~60 questions over ~75 documents): read a difference of one question as noise.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from archive.demo import demo_files
from core.settings import REPO_ROOT

PROBES = (REPO_ROOT / "tests" / "acceptance" / "unseen_messages.yml",
          REPO_ROOT / "tests" / "acceptance" / "heldout_messages.yml")


def write(out: Path, probes: Sequence[Path] = PROBES) -> tuple[Path, Path, int]:
    """Write docs.jsonl (the demo documents) and qrels.jsonl (probe messages that name a document)."""
    out.mkdir(parents=True, exist_ok=True)
    docs, qrels = out / "docs.jsonl", out / "qrels.jsonl"
    with open(docs, "w", encoding="utf-8") as fh:
        for path in demo_files():
            if "application" in path.name:
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    fh.write(line.strip() + "\n")
    count = 0
    with open(qrels, "w", encoding="utf-8") as fh:
        for path in probes:
            for msg in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]:
                if msg.get("doc"):
                    fh.write(json.dumps({"query": msg["text"], "relevant": [msg["doc"]]}, ensure_ascii=False)
                             + "\n")
                    count += 1
    return docs, qrels, count


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluation.probes", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    docs, qrels, count = write(args.out)
    print(f"{count} questions: {qrels}; documents: {docs}")


if __name__ == "__main__":
    main()
