"""Embedders: the fake one is deterministic; the real packaged model loads offline and reads English."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import (
    EmbeddingModelNotFound,
    FakeEmbedder,
    SentenceEmbedder,
    load_embedder,
    resolve_model,
)


def test_fake_embedder_is_deterministic_and_normalised() -> None:
    a, b = FakeEmbedder(dim=64), FakeEmbedder(dim=64)
    texts = ["申请护照需要什么材料", "How do I renew my passport?", ""]
    va, vb = a.encode(texts), b.encode(texts)
    assert va.dtype == np.float32 and va.shape == (3, 64)
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, atol=1e-6)
    near, far = a.encode(["renew my passport please", "parking permit for residents"])
    assert float(va[1] @ near) > float(va[1] @ far)


def test_fake_embedder_can_imitate_an_unreadable_script() -> None:
    blind = FakeEmbedder(unknown=lambda ch: "\u4e00" <= ch <= "\u9fff")
    assert blind.unknown_share("护照 passport") == pytest.approx(2 / 10)
    assert blind.unknown_share("passport") == 0.0
    assert FakeEmbedder().unknown_share("护照") == 0.0


def test_missing_model_folder_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelNotFound, match="does not exist"):
        load_embedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbeddingModelNotFound, match="no installed package"):
        resolve_model("packaged:no-such-model-xyz")
    with pytest.raises(EmbeddingModelNotFound):
        resolve_model("   ")


def test_hub_name_not_in_the_local_cache_is_a_named_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbeddingModelNotFound, match="cannot load it offline"):
        load_embedder("nobody-here/no-such-model-xyz")


def test_packaged_default_resolves_to_the_installed_package_folder() -> None:
    folder = Path(resolve_model("packaged:all-MiniLM-L6-v2"))
    assert (folder / "config.json").exists() and (folder / "modules.json").exists()


@functools.cache
def packaged_minilm() -> SentenceEmbedder:
    """The real default model, loaded once per test session (shared with test_fitness)."""
    return load_embedder("packaged:all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def minilm() -> SentenceEmbedder:
    return packaged_minilm()


@pytest.mark.model
def test_real_model_embeds_english_meaningfully(minilm: SentenceEmbedder) -> None:
    vecs = minilm.encode([
        "How do I renew my passport?",
        "What do I need to get a new passport?",
        "Where can I pay a parking fine?",
    ])
    assert vecs.shape == (3, minilm.dim) and minilm.dim == 384 and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    paraphrase, unrelated = float(vecs[0] @ vecs[1]), float(vecs[0] @ vecs[2])
    assert paraphrase > 0.6 and paraphrase > unrelated + 0.3
    assert not np.allclose(vecs[0], vecs[2])


@pytest.mark.model
def test_real_model_cannot_read_most_chinese(minilm: SentenceEmbedder) -> None:
    assert minilm.unknown_share("How do I renew my passport?") == 0.0
    assert minilm.unknown_share("申请护照需要准备哪些材料") > 0.5
    mask = minilm.unknown_mask("护照 passport")
    assert mask[:2].all() and not mask[3:].any()


@pytest.mark.model
def test_real_model_loads_from_a_plain_folder_path(minilm: SentenceEmbedder) -> None:
    folder = resolve_model("packaged:all-MiniLM-L6-v2")
    by_path = load_embedder(folder)
    np.testing.assert_allclose(by_path.encode(["bus pass"]), minilm.encode(["bus pass"]), atol=1e-5)
