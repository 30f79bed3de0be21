"""The real Retriever (lexical and a fake embedder over the test corpus) keeps the retriever contract."""

from __future__ import annotations

from typing import Any

import pytest

from tests.retrieval.contract import ContractQueries, RetrieverContract


class TestRetrieverContract(RetrieverContract):
    @pytest.fixture
    def subject(self, retriever: Any) -> Any:
        return retriever

    @pytest.fixture
    def contract_queries(self, archive: Any) -> ContractQueries:
        return ContractQueries(archive, several="居住证",
                               abolished_first="居住证管理办法（2019）流动人口服务管理 有效期为一年")
