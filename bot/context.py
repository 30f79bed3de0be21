"""What the actions need, injected once at app start-up: the archive, the retriever, conversation state.

Actions never open databases or load models themselves; ``BotContext`` is built by the app (or by a test
with small fakes) and handed to every action's constructor.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from archive.models import Application, DocType, Document, Status
from nlu.names import aliases, names
from retrieval.citations import cite, replacement
from retrieval.normalize import to_simplified
from retrieval.types import Citation, Filters, Hit


class ArchiveAPI(Protocol):
    def find(self, doc_id: str) -> Document | None: ...
    def iter_documents(self, statuses: Any = None) -> Any: ...
    def latest_change(self) -> int: ...
    def get_application(self, app_no: str) -> Application: ...
    def verify_application(self, app_no: str, phone_last4: str) -> bool: ...


class RetrieverAPI(Protocol):
    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]: ...


class ConversationsAPI(Protocol):
    """What the actions need from app.conversations.Conversations (tickets, the curation log, status checks).
    """

    def handover(self, session: str, text: str, transcript: list[dict[str, str]],
                 detail: dict[str, Any] | None = None) -> Any: ...
    def open_ticket(self, kind: str, session: str, text: str, transcript: Any = None) -> Any: ...
    def log(self, kind: str, session: str, text: str = "", detail: dict[str, Any] | None = None) -> None: ...
    def locked_for(self, session: str, app_no: str) -> float: ...
    def record_attempt(self, session: str, app_no: str, ok: bool) -> Any: ...
    def take_verification(self, session: str, app_no: str) -> bool: ...
    def take_attempt(self, session: str, app_no: str) -> Any: ...
    def expect_digits(self, session: str, app_no: str, owner: str) -> None: ...
    def clear_pending(self, session: str) -> None: ...
    def carry_transcript(self, session: str, mark: str, transcript: list[dict[str, str]]) -> None: ...
    def carried_transcript(self, session: str, mark: str | None) -> list[dict[str, str]]: ...


@dataclass
class Tuning:
    """Thresholds the actions use; overridable from ``settings.extra`` (civic.toml)."""

    # a retrieval answer to an unrecognised question is given only above this score
    fallback_min_score: float = 0.5
    # several guides are offered as buttons when the runner-up scores at least this share of the best
    ambiguity_ratio: float = 0.9

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> Tuning:
        known = {k: float(extra[k]) for k in ("fallback_min_score", "ambiguity_ratio") if k in extra}
        return cls(**known)


_BRACKETS = str.maketrans({"[": "〔", "]": "〕", "［": "〔", "］": "〕", "(": "〔", ")": "〕", "（": "〔",
                           "）": "〕", "號": "号", "發": "发", "辦": "办", "規": "规"})


# a 文号's year and number, however the brackets are written or left out: 〔2024〕9号, [2024]9號, 2024年第9号
_YEAR_NUMBER = re.compile(r"〔?(\d{4})(?:〕|年)?第?0*(\d{1,4})号")


def normalise_doc_no(doc_no: str) -> str:
    """「示府规[2019]3號」, 「示府规2019年第3号」 and 「示府规〔2019〕3号」 are the same 文号."""
    text = to_simplified(re.sub(r"\s+", "", doc_no)).translate(_BRACKETS)
    return _YEAR_NUMBER.sub(lambda m: f"〔{m[1]}〕{m[2]}号", text)


def _pattern(name: str) -> re.Pattern[str]:
    """How a name is found inside a message: an English name as whole words, any case."""
    if name.isascii():
        return re.compile(r"(?<![a-z0-9])" + re.escape(name.lower()) + r"(?![a-z0-9])")
    return re.compile(re.escape(name))


@dataclass
class NameIndex:
    seq: int
    unique: dict[str, str]  # unambiguous guide name (title, short title, keyword) -> id
    shared: dict[str, list[str]]  # a name several guides share -> their ids
    doc_nos: dict[str, str]  # normalised 文号 -> policy id (any status: abolished ones name successors)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)  # every name -> how it is found
    folded: dict[str, str] = field(default_factory=dict)  # lower-cased English name -> the name as stored

    @classmethod
    def build(cls, docs: Iterable[Document], seq: int) -> NameIndex:
        guides, doc_nos = [], {}
        for doc in docs:
            if doc.type == DocType.GUIDE and doc.status == Status.PUBLISHED:
                guides.append(doc)
            elif doc.doc_no:
                doc_nos[normalise_doc_no(doc.doc_no)] = doc.id
        ids = {d.title: d.id for d in guides}
        unique = {name: ids[title] for name, title in aliases(guides).items()}
        unique.update(ids)  # a full title always wins
        shared: dict[str, list[str]] = {}
        for doc in guides:
            for name in names(doc):
                if name not in unique:
                    shared.setdefault(name, []).append(doc.id)
        every = [*unique, *shared]
        patterns = {name: _pattern(name) for name in every if len(name) >= 2}
        folded = {name.lower(): name for name in every if name.isascii()}
        return cls(seq, unique, shared, doc_nos, patterns, folded)

    def doc_nos_in(self, text: str) -> list[str]:
        """The ids of the policies whose 文号 ``text`` writes out, in order, in whatever bracket style
        (「示府规2024年9号那个文件说的啥」): each year-and-number written there, joined to its issuer's code
        just before it, looked up among the 文号 the archive holds."""
        text = normalise_doc_no(text)
        found = []
        for match in re.finditer(r"〔\d{4}〕\d{1,4}号", text):
            head = text[: match.end()]
            found += [doc_id for key, doc_id in self.doc_nos.items() if head.endswith(key)]
        return list(dict.fromkeys(found))

    def canonical(self, name: str) -> str:
        """``name`` as the index stores it: 「Residence Permit」 -> 「residence permit」; Chinese as given."""
        name = to_simplified(name.strip())
        return self.folded.get(name.lower(), name) if name.isascii() else name

    def mentions(self, text: str) -> bool:
        """Does ``text`` name some guide (by any of its names)?"""
        return self.longest_mention(text) is not None

    def longest_mention(self, text: str) -> str | None:
        """The longest guide name inside ``text`` (「居住证签注要带啥」 -> 「居住证签注」, not 「居住证」)."""
        folded = text.lower()
        found = [name for name, pattern in self.patterns.items()
                 if pattern.search(folded if name.isascii() else text)]
        return max(found, key=len) if found else None

    def containing(self, fragment: str) -> list[str]:
        """Guide ids whose names contain ``fragment``, the guide with most such names first."""
        counts: dict[str, int] = {}
        for name, doc_id in self.unique.items():
            if fragment in name:
                counts[doc_id] = counts.get(doc_id, 0) + 1
        for name, ids in self.shared.items():
            if fragment in name:
                for doc_id in ids:
                    counts[doc_id] = counts.get(doc_id, 0) + 1
        return sorted(counts, key=lambda d: -counts[d])


@dataclass
class BotContext:
    archive: ArchiveAPI
    retriever: RetrieverAPI
    conversations: ConversationsAPI
    tuning: Tuning = field(default_factory=Tuning)
    today: Callable[[], str] = field(default=lambda: date.today().isoformat())
    _index: NameIndex | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def names(self) -> NameIndex:
        """The name index of published guides and of every policy's 文号.

        It follows the search index: rebuilt when the retriever has caught up with a change of the archive
        (``Retriever.change_seq``), so a guide is found by its name exactly when search finds it too.  A
        retriever without a change sequence (a test's fake) makes it follow the archive itself."""
        seq_of = getattr(self.retriever, "change_seq", None)
        seq = seq_of() if callable(seq_of) else self.archive.latest_change()
        with self._lock:
            if self._index is None or self._index.seq != seq:
                self._index = NameIndex.build(self.archive.iter_documents(), seq)
            return self._index

    def guide_by_title(self, name: str) -> Document | None:
        """The published guide called ``name`` (its title or one of its unambiguous informal names)."""
        index = self.names()
        doc_id = index.unique.get(name.strip()) or index.unique.get(index.canonical(name))
        return self.archive.find(doc_id) if doc_id else None

    def guides_named(self, name: str) -> list[Document]:
        """The guides sharing the informal name ``name`` (「提公积金」: rent, purchase, retirement)."""
        index = self.names()
        ids = index.shared.get(name.strip()) or index.shared.get(index.canonical(name), [])
        found = (self.archive.find(i) for i in ids)
        return [d for d in found if d is not None]

    def policy_by_doc_no(self, doc_no: str) -> Document | None:
        doc_id = self.names().doc_nos.get(normalise_doc_no(doc_no))
        return self.archive.find(doc_id) if doc_id else None

    def policies_cited_in(self, text: str) -> list[Document]:
        """The policies whose 文号 appear in ``text`` (NameIndex.doc_nos_in)."""
        found = (self.archive.find(i) for i in self.names().doc_nos_in(text))
        return [d for d in found if d is not None]

    def successor(self, doc: Document) -> Document | None:
        """The document that replaces one no longer in force (retrieval's one rule for it)."""
        return replacement(self.archive, doc, self.today())

    def citation(self, doc: Document) -> Citation:
        return cite(self.archive, doc, self.today())
