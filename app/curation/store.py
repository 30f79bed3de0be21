"""Curated training data in the home (``<home>/curation/data/``), versioned, exported as Rasa YAML.

Every change (examples added to an intent, a synonym for a service, an FAQ drafted from a group, a group
dismissed) writes a new numbered version ``v0001.json``, ``v0002.json``, … holding the whole curated state;
earlier versions stay, so a candidate model names the version it was trained on and a roll-back can go back
to what an earlier model saw.  Nothing is ever written into the repository.

What ``civic train`` reads is the export of the *active* version (the one whose model was activated after
its evaluation; ``app/curation/training.py`` sets it): ``nlu_curated.yml`` with the examples per intent and
the synonyms.  A candidate is trained on the newest version.  Held-out split: of the messages added in one
action with at least ``HOLDOUT_MIN`` messages, every ``HOLDOUT_EVERY``-th (by a stable hash) is kept out of
training and goes into the evaluation set, so the before/after comparison sees curated messages neither model
was trained on; a single message is always trained (the message the bot failed on must work afterwards).

Texts arrive masked (app.db keeps them masked) and are masked again here (``core.pii.mask``), then cleaned
of Rasa's annotation brackets (``nlu.generate.clean_example``).  The methods block (file I/O, a file lock):
call them with ``asyncio.to_thread`` from the event loop.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, NotFound
from core.pii import mask
from nlu.generate import clean_example

EXPORT_NAME = "nlu_curated.yml"
HOLDOUT_MIN = 5
HOLDOUT_EVERY = 5
MAX_TEXTS = 200  # messages in one action
MAX_TEXT_CHARS = 300
ACTIONS = ("add_examples", "add_synonym", "add_faq", "dismiss")


def text_key(text: str) -> str:
    """The identity of a message across the log, the inbox and the store: its masked, spaced-out text."""
    norm = " ".join(mask(text).split()).lower()
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()[:16]


def held_out(texts: list[str]) -> set[str]:
    """Which of the messages of one action are kept out of training (see the module docstring)."""
    if len(texts) < HOLDOUT_MIN:
        return set()
    ranked = sorted(texts, key=lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest())
    return set(ranked[::HOLDOUT_EVERY])


@dataclass
class Example:
    text: str
    intent: str
    heldout: bool = False
    version: int = 0  # the version that added it


@dataclass
class Change:
    version: int
    action: str
    actor: str
    at: float
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class CuratedData:
    """The whole curated state at one version."""

    version: int = 0
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # service title -> names citizens use
    faqs: list[dict[str, Any]] = field(default_factory=list)  # {doc_id, questions, version}
    handled: dict[str, str] = field(default_factory=dict)  # text_key -> what was done with the message
    change: Change | None = None  # what made this version

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CuratedData:
        change = data.get("change")
        return cls(
            version=int(data.get("version", 0)),
            examples=[Example(**e) for e in data.get("examples", [])],
            synonyms={k: list(v) for k, v in (data.get("synonyms") or {}).items()},
            faqs=list(data.get("faqs") or []),
            handled=dict(data.get("handled") or {}),
            change=Change(**change) if change else None,
        )

    def training_examples(self) -> list[Example]:
        return [e for e in self.examples if not e.heldout]

    def heldout_examples(self) -> list[Example]:
        return [e for e in self.examples if e.heldout]


def _clean_texts(texts: list[str]) -> list[str]:
    out: dict[str, None] = {}
    for raw in texts:
        text = clean_example(" ".join(mask(str(raw)).split()))
        if not text:
            continue
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"a message is longer than {MAX_TEXT_CHARS} characters")
        out.setdefault(text, None)
    if not out:
        raise InvalidInput("no messages given")
    if len(out) > MAX_TEXTS:
        raise InvalidInput(f"at most {MAX_TEXTS} messages at a time")
    return list(out)


class CurationStore:
    """The numbered versions under ``<home>/curation/data``; writers serialise on a lock file."""

    def __init__(self, curation_dir: Path) -> None:
        self.root = Path(curation_dir)
        self.data_dir = self.root / "data"

    # -- reading ----------------------------------------------------------------------------------------
    def _path(self, version: int) -> Path:
        return self.data_dir / f"v{version:04d}.json"

    def latest_version(self) -> int:
        numbers = [int(p.stem[1:]) for p in self.data_dir.glob("v[0-9][0-9][0-9][0-9].json")]
        return max(numbers, default=0)

    def get(self, version: int | None = None) -> CuratedData:
        """A version (the newest by default); version 0 is the empty state before any curation."""
        number = self.latest_version() if version is None else version
        if number == 0:
            return CuratedData()
        path = self._path(number)
        if not path.is_file():
            raise NotFound(f"curated data version {number} does not exist")
        return CuratedData.from_json(json.loads(path.read_text(encoding="utf-8")))

    def history(self) -> list[Change]:
        """What each version changed, newest first."""
        out: list[Change] = []
        for number in range(self.latest_version(), 0, -1):
            change = self.get(number).change
            if change is not None:
                out.append(change)
        return out

    # -- writing ----------------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _commit(self, data: CuratedData, action: str, actor: str, summary: str,
                detail: dict[str, Any]) -> CuratedData:
        data.version = self.latest_version() + 1
        data.change = Change(data.version, action, actor, time.time(), summary, detail)
        path = self._path(data.version)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        os.link(tmp, path)  # fails if the number was taken: versions are never overwritten
        tmp.unlink()
        return data

    def add_examples(self, intent: str, texts: list[str], *, intents: Collection[str],
                     actor: str = "") -> CuratedData:
        """Add ``texts`` as examples of ``intent``, which must be one of the domain's ``intents``."""
        if intent not in intents:
            raise InvalidInput(f"unknown intent {intent!r}; the domain has {', '.join(sorted(intents))}")
        cleaned = _clean_texts(texts)
        with self._locked():
            data = self.get()
            have = {(e.text, e.intent) for e in data.examples}
            other = {e.text: e.intent for e in data.examples if e.intent != intent}
            clash = [t for t in cleaned if t in other]
            if clash:
                raise InvalidInput(f"{clash[0]!r} is already an example of {other[clash[0]]!r}")
            new = [t for t in cleaned if (t, intent) not in have]
            if not new:
                raise InvalidInput(f"these messages are already examples of {intent!r}")
            kept_out = held_out(new)
            version = self.latest_version() + 1
            data.examples += [Example(t, intent, t in kept_out, version) for t in new]
            for t in new:
                data.handled[text_key(t)] = f"example:{intent}"
            return self._commit(data, "add_examples", actor, f"{len(new)} examples of {intent}",
                                {"intent": intent, "texts": new, "heldout": sorted(kept_out)})

    def add_synonym(self, service: str, synonym: str, *, services: Collection[str], actor: str = "",
                    texts: list[str] | None = None) -> CuratedData:
        """``synonym`` is another name of the published guide titled ``service``."""
        if service not in services:
            raise InvalidInput(f"{service!r} is not the title of a published service guide")
        [name] = _clean_texts([synonym])
        if name == service:
            raise InvalidInput("a synonym must differ from the service's title")
        with self._locked():
            data = self.get()
            for title, names in data.synonyms.items():
                if name in names and title != service:
                    raise InvalidInput(f"{name!r} is already a synonym of {title!r}")
            names = data.synonyms.setdefault(service, [])
            if name in names:
                raise InvalidInput(f"{name!r} is already a synonym of {service!r}")
            names.append(name)
            for t in _clean_texts(texts) if texts else []:
                data.handled[text_key(t)] = f"synonym:{service}"
            return self._commit(data, "add_synonym", actor, f"{name} → {service}",
                                {"service": service, "synonym": name})

    def add_faq(self, doc_id: str, questions: list[str], actor: str = "") -> CuratedData:
        """Record that the group's messages became the questions of the draft FAQ ``doc_id``."""
        cleaned = _clean_texts(questions)
        with self._locked():
            data = self.get()
            data.faqs.append({"doc_id": doc_id, "questions": cleaned, "version": self.latest_version() + 1})
            for t in cleaned:
                data.handled[text_key(t)] = f"faq:{doc_id}"
            return self._commit(data, "add_faq", actor, f"draft FAQ {doc_id}",
                                {"doc_id": doc_id, "questions": cleaned})

    def dismiss(self, texts: list[str], actor: str = "", reason: str = "") -> CuratedData:
        """The group's messages stay out of the inbox from now on."""
        cleaned = _clean_texts(texts)
        with self._locked():
            data = self.get()
            for t in cleaned:
                data.handled[text_key(t)] = "dismissed"
            return self._commit(data, "dismiss", actor, f"dismissed {len(cleaned)} messages",
                                {"texts": cleaned, "reason": reason[:200]})

    def handled_keys(self) -> dict[str, str]:
        return self.get().handled


# -- export ---------------------------------------------------------------------------------------------
def _item(name: str, title: str) -> str:
    return f"[{name}]{json.dumps({'entity': 'item', 'value': title}, ensure_ascii=False)}"


def export_yaml(data: CuratedData) -> str:
    """Rasa 3.x NLU YAML of a version's training part: examples per intent, synonyms (each with two
    examples that show the new name as the ``item`` entity, so the entity extractor learns it)."""
    by_intent: dict[str, list[str]] = {}
    for ex in data.training_examples():
        by_intent.setdefault(ex.intent, []).append(ex.text)
    for title, names in data.synonyms.items():
        for name in names:
            by_intent.setdefault("ask_guide", []).extend(
                [f"请问{_item(name, title)}", f"{_item(name, title)}要带什么材料"])
    parts = ['version: "3.1"\n', "nlu:\n"]
    for intent in sorted(by_intent):
        lines = "".join(f"      - {t}\n" for t in by_intent[intent])
        parts.append(f"  - intent: {intent}\n    examples: |\n{lines}")
    for title in sorted(data.synonyms):
        lines = "".join(f"      - {n}\n" for n in data.synonyms[title])
        parts.append(f"  - synonym: {json.dumps(title, ensure_ascii=False)}\n    examples: |\n{lines}")
    if len(parts) == 2:
        parts[1] = "nlu: []\n"
    return "".join(parts)


ACTIVE_NAME = "active.json"


def read_active(curation_dir: Path) -> dict[str, Any]:
    """What is active: ``{"version": curated version in the active model, "model": path, "history": [...]}``
    (written by ``app/curation/training.py`` on activation and roll-back); {} before any activation."""
    try:
        data = json.loads((Path(curation_dir) / ACTIVE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_active(curation_dir: Path, state: dict[str, Any]) -> None:
    path = Path(curation_dir) / ACTIVE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def training_export(curation_dir: Path, out_dir: Path) -> Path | None:
    """What ``civic train`` adds to its data: the export of the active curated version (None before any
    activation, so a home that never curated trains exactly as before)."""
    version = int(read_active(curation_dir).get("version") or 0)
    if version == 0:
        stale = out_dir / EXPORT_NAME
        stale.unlink(missing_ok=True)
        return None
    return write_export(CurationStore(curation_dir).get(version), out_dir)


def write_export(data: CuratedData, out_dir: Path) -> Path:
    """Write ``nlu_curated.yml`` for ``data`` into ``out_dir`` (only when its content changed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / EXPORT_NAME
    text = export_yaml(data)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path
