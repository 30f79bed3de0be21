"""What the retrieval layer needs to know, and nothing else: where its index lives and which encoder to use.

``Retriever`` takes a ``RetrievalConfig``, not the application's whole ``Settings``; ``RetrievalConfig.of``
reads the few settings it needs (one place).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings

NO_MODEL = ("", "none")


@dataclass(frozen=True)
class RetrievalConfig:
    index_dir: Path
    embedding_model: str = "none"  # a packaged model, a sentence-transformers name or folder; "none": lexical
    dense: bool = True  # False turns the dense side off whatever the model
    dense_index_threshold: int = 50_000  # passages; above it the dense index is approximate (IVF)
    embedding_cache: Path | None = None  # None: <index_dir>/embeddings.db
    embedding_processes: int = 0  # worker processes for index-time embedding: 0 = as many as cores, 1 = none
    time_zone: str = ""  # the city's (settings.time_zone): what "today" is for validity; "" = the machine's

    @property
    def embedding_cache_file(self) -> Path:
        from retrieval.embed_cache import CACHE_FILE

        return self.embedding_cache or self.index_dir / CACHE_FILE

    @property
    def uses_dense(self) -> bool:
        return self.dense and self.embedding_model not in NO_MODEL

    @classmethod
    def of(cls, settings: Settings) -> RetrievalConfig:
        return cls(
            index_dir=settings.paths.index_dir,
            embedding_model=settings.embedding_model,
            dense=bool(settings.extra.get("dense", True)),
            dense_index_threshold=settings.dense_index_threshold,
            embedding_cache=Path(settings.embedding_cache).expanduser() if settings.embedding_cache else None,
            embedding_processes=settings.embedding_processes,
            time_zone=settings.time_zone,
        )
