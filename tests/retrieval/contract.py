"""What every retriever promises its callers (the actions, the search answers, the CLI), as a test mixin.

A test class inherits :class:`RetrieverContract` and provides two fixtures: ``subject`` (the retriever) and
``contract_queries`` (a query that finds several documents, one that finds an abolished document first, and
the archive the hits come from).  The real ``Retriever`` and the bot tests' fake both run it
(tests/retrieval/test_contract.py), so a fake cannot drift from what the real one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.models import DocType
from retrieval.types import Filters


@dataclass
class ContractQueries:
    archive: Any
    several: str  # finds several documents, guides among them
    abolished_first: str  # the best match is abolished and has a current replacement


class RetrieverContract:
    def test_hits_are_archive_documents_best_first_within_top_k(self, subject: Any,
                                                                contract_queries: ContractQueries) -> None:
        hits = subject.search(contract_queries.several, top_k=3)
        assert 1 <= len(hits) <= 3
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for hit in hits:
            doc = contract_queries.archive.find(hit.doc_id)
            assert doc is not None and hit.citation.id == doc.id and hit.title == doc.title
            assert hit.passages and all(p.doc_id == doc.id for p in hit.passages)
            assert 0.0 <= hit.score <= 1.0
        assert len(subject.search(contract_queries.several, top_k=1)) == 1

    def test_the_type_filter_holds(self, subject: Any, contract_queries: ContractQueries) -> None:
        hits = subject.search(contract_queries.several, Filters(type=DocType.GUIDE), top_k=5)
        assert hits and all(h.doc_type == DocType.GUIDE for h in hits)

    def test_nothing_for_nothing(self, subject: Any, contract_queries: ContractQueries) -> None:
        assert subject.search("", top_k=5) == [] and subject.search("   ", top_k=5) == []
        assert subject.search(contract_queries.several, top_k=0) == []

    def test_a_document_no_longer_in_force_only_first_and_with_its_replacement(
        self, subject: Any, contract_queries: ContractQueries
    ) -> None:
        hits = subject.search(contract_queries.abolished_first, top_k=5)
        assert hits and not hits[0].is_current
        assert hits[0].superseded_by is not None and hits[0].superseded_by.is_current
        assert all(h.is_current for h in hits[1:])
        everything = subject.search(contract_queries.abolished_first, top_k=5, include_inactive=True)
        assert hits[0].doc_id in {h.doc_id for h in everything}
