"""Sharing across government levels (四级资源共享), the archive's side: what the change feed serves, how a
peer's record becomes a local document, and the directory of origins every floor above reads.

- **The feed** (``feed_page``): the current version of every document of this instance's own published
  catalog (published, expired, abolished; ``origin`` empty) that changed after ``since``, one line each, in
  change order, with the change seq the line stands for.  A document moved back to draft or review after it
  was public is one ``withdrawn`` line.  Documents this instance got from a peer are **not re-shared**: each
  instance shares what it issued itself, so a document reaches a subscriber once, from its own issuer, and no
  loop of subscriptions can echo it back.
- **Importing** (``import_record``): a record becomes ``PEER:ID`` (the peer's name, a colon, its id: never a
  local id, which has no colon from a peer's feed), with ``origin`` = the peer's name, ``origin_level`` = the
  peer's level, ``origin_id`` = its id on the peer; ``replaced_by`` is mapped to the id of the local copy
  of the replacement (resolved once that copy exists).  A record is never written over a local document:
  when its 索引号 or 文号 equals one of a local document's, the record is not imported and a ``Clash`` is
  returned.  A record
  seen twice is one version (``Archive.upsert`` keeps identical content as it is).
- **Origins** (``origins``, ``set_origin``): each peer's label (示范省人民政府), level and whether it is
  switched off, in the archive's meta table, so retrieval (citations, the current-document policy) and the
  catalog can read them from the archive alone.  A switched-off origin's documents stay in the archive but
  are hidden from chat and catalog: ``hidden_origins`` is the one rule, read by ``retrieval.validity`` and
  given to ``DocQuery.hidden_origins``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from archive import catalog as records
from archive.models import Document, Status
from archive.store import Archive, Change, DocQuery
from core.errors import InvalidInput

LEVELS = ("national", "province", "city", "county")
LEVEL_NAMES = {"national": "国家", "province": "省级", "city": "市级", "county": "县级", "local": "本级"}
PUBLIC = (Status.PUBLISHED, Status.EXPIRED, Status.ABOLISHED)
SEPARATOR = ":"
_META = "origins"


# -- origins -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Origin:
    name: str
    label: str
    level: str
    hidden: bool = False

    @property
    def shown_as(self) -> str:
        return self.label or self.name


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level


def origins(archive: Archive) -> dict[str, Origin]:
    """Every peer documents were or may be shared from, by name."""
    raw = archive.get_meta(_META)
    data: dict[str, dict[str, Any]] = json.loads(raw) if raw else {}
    return {name: Origin(name=name, **{k: v for k, v in o.items() if k != "name"})
            for name, o in data.items()}


def set_origin(archive: Archive, origin: Origin) -> None:
    with archive.transaction():
        known = {n: asdict(o) for n, o in origins(archive).items()}
        known[origin.name] = asdict(origin)
        archive.set_meta(_META, json.dumps(known, ensure_ascii=False, sort_keys=True))


def forget_origin(archive: Archive, name: str) -> None:
    with archive.transaction():
        known = {n: asdict(o) for n, o in origins(archive).items() if n != name}
        archive.set_meta(_META, json.dumps(known, ensure_ascii=False, sort_keys=True))


def hidden_origins(archive: Any) -> frozenset[str]:
    """The origins whose documents chat and catalog must not show (switched off with ``civic peers
    disable``); an archive-like object without the meta table (a test fake) has none."""
    if not hasattr(archive, "get_meta"):
        return frozenset()
    return frozenset(n for n, o in origins(archive).items() if o.hidden)


def origin_label(archive: Any, doc: Document) -> str:
    """How a shared document's source is named to a citizen (the peer's label; its name without one);
    "" for this instance's own documents."""
    if not doc.origin:
        return ""
    found = origins(archive).get(doc.origin) if hasattr(archive, "get_meta") else None
    return found.shown_as if found is not None else doc.origin


def local_id(peer: str, remote_id: str) -> str:
    return f"{peer}{SEPARATOR}{remote_id}"


# -- the feed ------------------------------------------------------------------------------------------
@dataclass
class FeedPage:
    lines: list[dict[str, Any]]  # {"seq", "record"} or {"seq", "id", "withdrawn": true}
    next_since: int  # the ``since`` of the next page (the last change this page covered)
    latest: int  # the archive's latest change
    more: bool  # changes after next_since may be waiting


def feed_page(archive: Archive, since: int, limit: int) -> FeedPage:
    """One page of the change feed (see the module's docstring)."""
    if since < 0 or limit < 1:
        raise InvalidInput("since must be 0 or more and limit 1 or more")
    latest = archive.latest_change()
    rows = archive._rows(
        "SELECT doc_id, max(seq) AS s FROM changes WHERE seq > ? GROUP BY doc_id ORDER BY s LIMIT ?",
        [since, limit],
    )
    lines: list[dict[str, Any]] = []
    for row in rows:
        doc = archive.find(row["doc_id"])
        if doc is None or doc.origin:
            continue
        seq = int(row["s"])
        if doc.status in PUBLIC:
            lines.append({"seq": seq, "record": records.to_record(doc)})
        elif any(v.status in PUBLIC for v in archive.history(doc.id)):
            lines.append({"seq": seq, "id": doc.id, "withdrawn": True})
    # no rows: nothing after ``since`` (``latest`` below it means the peer's archive is younger than the
    # cursor, e.g. restored from a backup: the subscriber starts over from there)
    next_since = int(rows[-1]["s"]) if rows else latest
    return FeedPage(lines, next_since, latest, more=len(rows) == limit)


# -- importing -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clash:
    """A peer's record not imported because a local document has the same 索引号 or 文号."""

    remote_id: str
    field: str  # index_no | doc_no
    value: str
    local_id: str
    title: str


def _local_holder(archive: Archive, field: str, value: str) -> Document | None:
    if not value.strip():
        return None
    query = DocQuery(index_no=value) if field == "index_no" else DocQuery(doc_no=value)
    _, found = archive.search_documents(query, limit=50)
    for doc in found:
        if not doc.origin and getattr(doc, field).strip() == value.strip():
            return doc
    return None


@dataclass(frozen=True)
class Imported:
    change: Change | None  # None when nothing was written (a clash, an unknown withdrawal)
    local_id: str
    clash: Clash | None = None


def import_record(archive: Archive, peer: Origin, record: dict[str, Any], max_body_chars: int = 200_000
                  ) -> Imported:
    """Import one catalog record from ``peer``'s feed (provenance set, replacement mapped, clash checked)."""
    doc = records.from_record(record, max_body_chars=max_body_chars)
    if doc.status not in PUBLIC:
        raise InvalidInput(f"{doc.id}: a shared record must be public, not {doc.status}")
    remote = doc.id
    mine = local_id(peer.name, remote)
    for field in ("index_no", "doc_no"):
        holder = _local_holder(archive, field, getattr(doc, field))
        if holder is not None:
            return Imported(None, mine, Clash(remote, field, getattr(doc, field), holder.id, doc.title))
    doc.id, doc.origin, doc.origin_level, doc.origin_id = mine, peer.name, peer.level, remote
    doc.source, doc.extracted = "", list(doc.extracted)
    if doc.replaced_by:  # the local copy's id; a replacement not yet pulled resolves once it arrives
        doc.replaced_by = local_id(peer.name, doc.replaced_by)
    return Imported(archive.upsert(doc), mine)


def withdraw(archive: Archive, peer: Origin, remote_id: str) -> Imported:
    """The peer took a document out of its public catalog: the local copy goes to review (hidden)."""
    mine = local_id(peer.name, remote_id)
    doc = archive.find(mine)
    if doc is None or doc.origin != peer.name or doc.status not in PUBLIC:
        return Imported(None, mine)
    doc.status = Status.REVIEW
    return Imported(archive.upsert(doc), mine)
