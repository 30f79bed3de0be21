"""What an editor can do with an inbox group, checked against the domain and the archive.

* ``add_examples``: the group's messages become examples of one of the domain's intents;
* ``add_synonym``: a name citizens use becomes a synonym of a published service guide's title;
* ``create_faq``: a new FAQ answer — a *draft* document in the archive whose title is the first question and
  whose keywords are the other questions; it goes through review like any other draft before it is published;
* ``dismiss``: the messages leave the inbox for good.

Blocking (SQLite, files): call from the event loop with ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from pathlib import Path

from app.curation.store import CuratedData, CurationStore
from archive.models import DocType, Document, Status
from archive.store import Archive
from bot.texts import load_domain
from core.errors import InvalidInput
from core.pii import mask

MAX_ANSWER_CHARS = 5000
FALLBACK_INTENT = "nlu_fallback"


def domain_intents(project_dir: Path) -> list[str]:
    """The intents the domain declares (what examples may be added to)."""
    domain = Path(project_dir) / "domain"
    merged = load_domain(domain if domain.exists() else Path(project_dir) / "domain.yml")
    out: list[str] = []
    for entry in merged.get("intents") or []:
        name = entry if isinstance(entry, str) else next(iter(entry), "") if isinstance(entry, dict) else ""
        if name and name != FALLBACK_INTENT and name not in out:
            out.append(str(name))
    return out


def service_titles(archive: Archive) -> list[str]:
    """Titles of the published service guides (what a synonym may point at)."""
    docs = archive.iter_documents(statuses=[Status.PUBLISHED])
    return sorted({d.title for d in docs if d.type == DocType.GUIDE})


def create_faq(archive: Archive, store: CurationStore, questions: list[str], answer: str, *, title: str = "",
               actor: str = "") -> tuple[Document, CuratedData]:
    """A draft FAQ from a group's messages; returns the document and the store's new version."""
    answer = answer.strip()
    if not answer:
        raise InvalidInput("an FAQ needs an answer")
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidInput(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    asked = [" ".join(mask(q).split()) for q in questions if q.strip()]
    if not asked:
        raise InvalidInput("an FAQ needs at least one question")
    doc_id = time.strftime("CUR-F-%Y%m%d-%H%M%S", time.gmtime())
    while archive.find(doc_id) is not None:
        doc_id += "x"
    doc = Document(
        id=doc_id, title=(title.strip() or asked[0])[:200], body=answer, type=DocType.FAQ,
        status=Status.DRAFT, keywords=list(dict.fromkeys(asked[1:]))[:20], genre="问答",
        source=f"curation by {actor}" if actor else "curation",
    )
    archive.upsert(doc)
    return doc, store.add_faq(doc_id, asked, actor=actor)
