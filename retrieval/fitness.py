"""Model fitness: how much of the corpus the embedding model can actually read.

At index build we tokenise a sample of the corpus with the embedding model's tokenizer and measure, per
script, the share of characters that end up inside an unknown ([UNK]) token.  all-MiniLM-L6-v2 knows only a
few hundred CJK characters, so on Chinese text most characters are unknown and its vectors carry no meaning;
``FitnessReport.weight_for(query)`` then gives the dense signal (close to) zero weight, so an English-only
model never drags Chinese results down, while a model that reads Chinese gets full weight.

Scripts: ``han`` (CJK ideographs), ``latin`` (Latin letters and ASCII digits), ``other`` (any other letter
or digit: kana, Hangul, Cyrillic, full-width digits…).  Punctuation, symbols and spaces are not counted.
"""

from __future__ import annotations

import json
import random
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retrieval.embedder import Embedder

SCRIPTS = ("han", "latin", "other")
# Readability (1 - unknown share) at or below LOW gives weight 0, at or above HIGH weight 1, linear between:
# once half the characters are [UNK] the embedding is dominated by the unknown token.
LOW, HIGH = 0.5, 0.9
DEFAULT_SAMPLE = 1000
MAX_CHARS = 1000  # per sampled text


def script_of(ch: str) -> str | None:
    """The script bucket of one character, or None for spaces, punctuation and symbols."""
    code = ord(ch)
    if (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF
            or 0x20000 <= code <= 0x3134F):
        return "han"
    if ch.isascii():
        return "latin" if ch.isalnum() else None
    category = unicodedata.category(ch)
    if category[0] not in "LN":
        return None
    return "latin" if "LATIN" in unicodedata.name(ch, "") else "other"


def script_counts(text: str) -> dict[str, int]:
    counts = dict.fromkeys(SCRIPTS, 0)
    for ch in text:
        script = script_of(ch)
        if script:
            counts[script] += 1
    return counts


def ramp(readability: float) -> float:
    """Map readability in [0, 1] to a dense weight in [0, 1]."""
    if readability <= LOW:
        return 0.0
    if readability >= HIGH:
        return 1.0
    return (readability - LOW) / (HIGH - LOW)


@dataclass
class FitnessReport:
    """Per-script unknown shares of a corpus sample under one model; JSON-serialisable."""

    model: str
    texts_sampled: int = 0
    chars: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCRIPTS, 0))
    unknown_chars: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCRIPTS, 0))
    measured_at: str = ""

    def unknown_share(self, script: str) -> float | None:
        """Share of this script's characters mapped to unknown; None when the sample had none."""
        total = self.chars.get(script, 0)
        return self.unknown_chars.get(script, 0) / total if total else None

    @property
    def overall_unknown_share(self) -> float:
        total = sum(self.chars.values())
        return sum(self.unknown_chars.values()) / total if total else 0.0

    @property
    def corpus_weight(self) -> float:
        """Weight of the dense signal for the corpus as a whole."""
        return ramp(1.0 - self.overall_unknown_share)

    @property
    def dense_useful(self) -> bool:
        return self.corpus_weight > 0.0

    def readability(self, text: str) -> float:
        """Expected share of ``text``'s letters/digits the model reads, judged from the corpus sample.

        A script absent from the sample counts as readable: nothing says the model cannot read it.
        """
        counts = script_counts(text)
        total = sum(counts.values())
        if not total:
            return 0.0
        read = 0.0
        for script, n in counts.items():
            share = self.unknown_share(script)
            read += n * (1.0 - (share if share is not None else 0.0))
        return read / total

    def weight_for(self, query: str, query_unknown_share: float | None = None) -> float:
        """Dense-signal weight in [0, 1] for one query: ~0 where the model cannot read it, ~1 where it can.

        Pass ``query_unknown_share`` (``embedder.unknown_share(query)``) to also account for the query's own
        characters; the lower of the two readabilities counts.
        """
        readable = self.readability(query)
        if query_unknown_share is not None:
            readable = min(readable, 1.0 - query_unknown_share)
        return ramp(readable)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unknown_share"] = {s: self.unknown_share(s) for s in SCRIPTS}
        data["overall_unknown_share"] = self.overall_unknown_share
        data["corpus_weight"] = self.corpus_weight
        data["dense_useful"] = self.dense_useful
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitnessReport:
        return cls(
            model=str(data.get("model", "")),
            texts_sampled=int(data.get("texts_sampled", 0)),
            chars={s: int(data.get("chars", {}).get(s, 0)) for s in SCRIPTS},
            unknown_chars={s: int(data.get("unknown_chars", {}).get(s, 0)) for s in SCRIPTS},
            measured_at=str(data.get("measured_at", "")),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FitnessReport:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def summary(self) -> str:
        """One line for the CLI: per-script unknown shares and the resulting weight."""
        parts = []
        for script in SCRIPTS:
            share = self.unknown_share(script)
            if share is not None:
                parts.append(f"{script} {share:.0%} unknown ({self.chars[script]} chars)")
        return (f"embedding model {self.model}: " + (", ".join(parts) or "no text sampled")
                + f"; dense weight {self.corpus_weight:.2f}")


def check(embedder: Embedder, texts: Sequence[str], sample: int = DEFAULT_SAMPLE,
          seed: int = 0) -> FitnessReport:
    """Measure per-script unknown shares of ``embedder`` on a deterministic sample of ``texts``."""
    chosen = list(texts)
    if len(chosen) > sample:
        chosen = random.Random(seed).sample(chosen, sample)
    report = FitnessReport(model=embedder.name, texts_sampled=len(chosen),
                           measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    for text in chosen:
        text = text[:MAX_CHARS]
        mask = embedder.unknown_mask(text)
        for ch, unknown in zip(text, mask, strict=True):
            script = script_of(ch)
            if script:
                report.chars[script] += 1
                if unknown:
                    report.unknown_chars[script] += 1
    return report
