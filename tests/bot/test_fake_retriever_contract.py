"""The bot tests' FakeRetriever keeps the same contract as the real one (tests/retrieval/contract.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import FakeRetriever
from tests.retrieval.contract import ContractQueries, RetrieverContract


class TestFakeRetrieverContract(RetrieverContract):
    @pytest.fixture
    def subject(self, retriever: FakeRetriever) -> FakeRetriever:
        retriever.add("结婚登记", ("SF-G-001", 0.9), ("SF-P-002", 0.5), ("SF-G-003", 0.4))
        # SF-P-001 is abolished, replaced by SF-P-002; SF-P-002 current
        retriever.add("居住证管理办法", ("SF-P-001", 0.8), ("SF-P-002", 0.7), ("SF-G-001", 0.2))
        return retriever

    @pytest.fixture
    def contract_queries(self, archive: Any) -> ContractQueries:
        return ContractQueries(archive, several="结婚登记", abolished_first="居住证管理办法")
