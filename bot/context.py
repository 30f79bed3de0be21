"""What the actions need, injected once at app start-up: the archive, the retriever, conversation state.

Actions never open databases or load models themselves; ``BotContext`` is built by the app (or by a test
with small fakes) and handed to every action's constructor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from archive.models import Application, DocType, Document, Status
from nlu.names import aliases
from retrieval.types import Citation, Filters, Hit


class ArchiveAPI(Protocol):
    def find(self, doc_id: str) -> Document | None: ...
    def iter_documents(self, statuses: Any = None) -> Any: ...
    def changes_since(self, seq: int) -> tuple[int, list[str]]: ...
    def get_application(self, app_no: str) -> Application: ...
    def verify_application(self, app_no: str, phone_last4: str) -> bool: ...


class RetrieverAPI(Protocol):
    def search(
        self, query: str, filters: Filters | None = None, top_k: int = 5, include_inactive: bool = False
    ) -> list[Hit]: ...


class ConversationsAPI(Protocol):
    def handover(self, session: str, text: str, transcript: list[dict[str, str]]) -> Any: ...
    def open_ticket(self, kind: str, session: str, text: str, transcript: Any = None) -> Any: ...
    def log(self, kind: str, session: str, text: str = "", detail: dict[str, Any] | None = None) -> None: ...
    def locked_for(self, session: str, app_no: str) -> float: ...
    def record_attempt(self, session: str, app_no: str, ok: bool) -> Any: ...
    def take_verification(self, session: str, app_no: str) -> bool: ...


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


@dataclass
class BotContext:
    archive: ArchiveAPI
    retriever: RetrieverAPI
    conversations: ConversationsAPI
    tuning: Tuning = field(default_factory=Tuning)
    today: Callable[[], str] = field(default=lambda: date.today().isoformat())
    _titles: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _seq: int = field(default=-1, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def guide_names(self) -> dict[str, str]:
        """Every unambiguous name of a published guide (title, short title, keyword) -> guide id.

        Rebuilt when the archive has changed since the last call."""
        seq, _ = self.archive.changes_since(max(self._seq, 0))
        with self._lock:
            if self._seq < 0 or seq != self._seq:
                guides = [d for d in self.archive.iter_documents(statuses=[Status.PUBLISHED])
                          if d.type == DocType.GUIDE]
                ids = {d.title: d.id for d in guides}
                names = {name: ids[title] for name, title in aliases(guides).items()}
                names.update(ids)  # a full title always wins
                self._titles, self._seq = names, seq
            return self._titles

    def guide_by_title(self, name: str) -> Document | None:
        """The published guide called ``name`` (its title or one of its unambiguous informal names)."""
        doc_id = self.guide_names().get(name.strip())
        return self.archive.find(doc_id) if doc_id else None

    def citation(self, doc: Document) -> Citation:
        return Citation.of(doc, self.today())
