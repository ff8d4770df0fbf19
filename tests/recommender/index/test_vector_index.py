"""VectorIndex (exact and HNSW) against a numpy brute-force oracle on random unit vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from embeddings import l2_normalise
from recommender.index.vectors.faiss_index import VectorIndex, bitmap_of

DIMENSION = 24


def _unit_vectors(count: int, seed: int, dimension: int = DIMENSION) -> np.ndarray:
    """(count, dimension) float32, each row unit length."""
    rng = np.random.default_rng(seed)
    return l2_normalise(rng.normal(size=(count, dimension)))


def _sparse_ids(count: int, seed: int) -> np.ndarray:
    """Distinct, non-contiguous row ids, so a positions/ids mix-up cannot pass unnoticed."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(10 * count, size=count, replace=False)).astype(np.int64)


def _oracle(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k by inner product: scores (q, k), ids (q, k)."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def _filled(kind: str, vectors: np.ndarray, ids: np.ndarray) -> VectorIndex:
    index = VectorIndex(vectors.shape[1], kind)
    index.add(ids, vectors)
    return index


def _recall(found: np.ndarray, expected: np.ndarray) -> float:
    hits = sum(len(set(f) & set(e)) for f, e in zip(found.tolist(), expected.tolist(), strict=True))
    return hits / expected.size


def test_unknown_kind_is_rejected_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="exact"):
        VectorIndex(DIMENSION, "ivf")


def test_exact_search_matches_the_oracle() -> None:
    vectors, ids = _unit_vectors(400, seed=1), _sparse_ids(400, seed=2)
    queries = _unit_vectors(15, seed=3)
    index = _filled("exact", vectors, ids)

    scores, found = index.search(queries, 10)
    expected_scores, expected_ids = _oracle(vectors, ids, queries, 10)

    assert len(index) == 400
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_hnsw_recall_at_10_against_the_oracle() -> None:
    vectors, ids = _unit_vectors(2000, seed=4), _sparse_ids(2000, seed=5)
    queries = _unit_vectors(50, seed=6)
    index = _filled("hnsw", vectors, ids)

    scores, found = index.search(queries, 10)
    _, expected_ids = _oracle(vectors, ids, queries, 10)

    assert _recall(found, expected_ids) >= 0.95
    # Whatever it finds, the scores it reports are the true inner products.
    positions = np.searchsorted(ids, found)
    true_scores = np.einsum("qd,qkd->qk", queries, vectors[positions])
    np.testing.assert_allclose(scores, true_scores, atol=1e-5)


def test_search_deeper_than_the_index_returns_each_vector_once() -> None:
    vectors, ids = _unit_vectors(5, seed=7), _sparse_ids(5, seed=8)
    index = _filled("exact", vectors, ids)

    scores, found = index.search(vectors[:1], 10)

    valid = found[0][found[0] >= 0]
    assert sorted(valid.tolist()) == ids.tolist()
    assert found[0][0] == ids[0]
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_removed_ids_are_never_returned_and_the_rest_still_match(kind: str) -> None:
    vectors, ids = _unit_vectors(300, seed=9), _sparse_ids(300, seed=10)
    index = _filled(kind, vectors, ids)
    removed = ids[::3]

    index.remove(removed)

    keep = ~np.isin(ids, removed)
    queries = vectors[:20]  # several of them are removed vectors themselves
    _, found = index.search(queries, 10)
    _, expected = _oracle(vectors[keep], ids[keep], queries, 10)
    assert len(index) == int(keep.sum())
    assert not np.isin(found, removed).any()
    if kind == "exact":
        np.testing.assert_array_equal(found, expected)
    else:
        assert _recall(found, expected) >= 0.95


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_add_after_remove_finds_the_new_vectors(kind: str) -> None:
    vectors, ids = _unit_vectors(60, seed=11), _sparse_ids(60, seed=12)
    index = _filled(kind, vectors[:40], ids[:40])
    index.remove(ids[:10])

    index.add(ids[40:], vectors[40:])

    assert len(index) == 50
    _, found = index.search(vectors[40:], 1)
    np.testing.assert_array_equal(found[:, 0], ids[40:])


def test_remove_of_nothing_or_of_absent_ids_keeps_everything() -> None:
    vectors, ids = _unit_vectors(10, seed=13), _sparse_ids(10, seed=14)
    index = _filled("exact", vectors, ids)

    index.remove(np.zeros(0, dtype=np.int64))
    index.remove(np.asarray([ids.max() + 1], dtype=np.int64))

    assert len(index) == 10


def test_bitmap_of_sets_exactly_the_given_bits() -> None:
    bitmap = bitmap_of(np.asarray([0, 3, 9], dtype=np.int64))

    flags = np.unpackbits(bitmap, bitorder="little")
    assert np.flatnonzero(flags).tolist() == [0, 3, 9]
    assert bitmap.dtype == np.uint8


def test_bitmap_of_no_ids_allows_nothing() -> None:
    assert not np.unpackbits(bitmap_of(np.zeros(0, dtype=np.int64))).any()


def test_exact_search_with_allowed_bitmap_matches_the_restricted_oracle() -> None:
    vectors, ids = _unit_vectors(500, seed=15), _sparse_ids(500, seed=16)
    index = _filled("exact", vectors, ids)
    chosen = np.random.default_rng(17).random(500) < 0.1
    queries = _unit_vectors(12, seed=18)

    scores, found = index.search(queries, 10, bitmap_of(ids[chosen]))

    expected_scores, expected_ids = _oracle(vectors[chosen], ids[chosen], queries, 10)
    assert np.isin(found, ids[chosen]).all()
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_allowed_bitmap_smaller_than_the_index_returns_only_allowed_and_pads() -> None:
    vectors, ids = _unit_vectors(200, seed=19), _sparse_ids(200, seed=20)
    index = _filled("exact", vectors, ids)
    allowed = ids[[5, 17, 42]]

    _, found = index.search(vectors[:3], 10, bitmap_of(allowed))

    for row in found:
        assert sorted(row[row >= 0].tolist()) == sorted(allowed.tolist())
        assert (row[3:] == -1).all()


def test_hnsw_search_with_allowed_bitmap_returns_only_allowed() -> None:
    vectors, ids = _unit_vectors(1000, seed=21), _sparse_ids(1000, seed=22)
    index = _filled("hnsw", vectors, ids)
    chosen = np.random.default_rng(23).random(1000) < 0.2
    queries = _unit_vectors(20, seed=24)

    _, found = index.search(queries, 10, bitmap_of(ids[chosen]))

    _, expected_ids = _oracle(vectors[chosen], ids[chosen], queries, 10)
    assert np.isin(found, ids[chosen]).all()
    assert _recall(found, expected_ids) >= 0.95


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_vectors_of_returns_the_stored_vectors(kind: str) -> None:
    vectors, ids = _unit_vectors(50, seed=25), _sparse_ids(50, seed=26)
    index = _filled(kind, vectors, ids)
    picked = np.asarray([7, 0, 49, 7])

    np.testing.assert_allclose(index.vectors_of(ids[picked]), vectors[picked], atol=1e-7)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_vectors_of_an_unknown_id_raises_key_error(kind: str) -> None:
    vectors, ids = _unit_vectors(20, seed=27), _sparse_ids(20, seed=28)
    index = _filled(kind, vectors, ids)
    unknown = int(ids.max()) + 1

    with pytest.raises(KeyError) as raised:
        index.vectors_of(np.asarray([ids[0], unknown]))

    assert raised.value.args == (unknown,)


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_vectors_of_a_removed_id_raises_key_error(kind: str) -> None:
    vectors, ids = _unit_vectors(20, seed=29), _sparse_ids(20, seed=30)
    index = _filled(kind, vectors, ids)
    index.remove(ids[:1])

    with pytest.raises(KeyError):
        index.vectors_of(ids[:1])


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_save_then_load_gives_identical_results(kind: str, tmp_path: Path) -> None:
    vectors, ids = _unit_vectors(600, seed=31), _sparse_ids(600, seed=32)
    index = _filled(kind, vectors, ids)
    index.remove(ids[::7])
    queries = _unit_vectors(10, seed=33)
    allowed = bitmap_of(ids[::2])
    path = tmp_path / "vectors.faiss"

    index.save(path)
    loaded = VectorIndex.load(path, kind)

    assert loaded.kind == kind
    assert loaded.dimension == DIMENSION
    assert len(loaded) == len(index)
    for mask in (None, allowed):
        before_scores, before_ids = index.search(queries, 10, mask)
        after_scores, after_ids = loaded.search(queries, 10, mask)
        np.testing.assert_array_equal(after_ids, before_ids)
        np.testing.assert_array_equal(after_scores, before_scores)
    np.testing.assert_array_equal(loaded.vectors_of(ids[1:4]), index.vectors_of(ids[1:4]))


@pytest.mark.parametrize("queries", [1, 19, 20, 300])
def test_exact_search_agrees_one_query_at_a_time_and_in_bulk(queries: int) -> None:
    # Below 20 queries FAISS's own kernels answer on one thread; from 20, numpy's BLAS.
    vectors, ids = _unit_vectors(700, seed=34), _sparse_ids(700, seed=35)
    index = _filled("exact", vectors, ids)
    allowed = ids[np.random.default_rng(36).random(700) < 0.01]  # a handful of rows
    batch = _unit_vectors(queries, seed=37)

    scores, found = index.search(batch, 10)
    masked_scores, masked = index.search(batch, 10, bitmap_of(allowed))

    expected_scores, expected_ids = _oracle(vectors, ids, batch, 10)
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    assert np.isin(masked[masked >= 0], allowed).all()
    assert (masked >= 0).sum(axis=1).tolist() == [len(allowed)] * queries
    # Padding past the allowed rows is id -1 with score -inf, whichever path answered.
    assert np.isneginf(masked_scores[masked < 0]).all()


def test_hnsw_removal_marks_nodes_and_filtered_searches_skip_them(tmp_path: Path) -> None:
    vectors, ids = _unit_vectors(500, seed=38), _sparse_ids(500, seed=39)
    index = _filled("hnsw", vectors, ids)
    removed = ids[:20]  # 4%: below the rebuild share, so the graph keeps tombstones

    index.remove(removed)
    index.remove(removed[:5])  # removing again changes nothing

    assert len(index) == 480
    everything = bitmap_of(ids)  # a bitmap that still names the removed ids
    for allowed in (None, everything):
        _, found = index.search(vectors[:20], 10, allowed)
        assert not np.isin(found, removed).any() and (found >= 0).all()
        assert (found[:, 0] != ids[:20]).all()
    with pytest.raises(KeyError):
        index.vectors_of(removed[:1])
    path = tmp_path / "vectors.faiss"
    index.save(path)
    loaded = VectorIndex.load(path, "hnsw")
    assert len(loaded) == 480
    _, found = loaded.search(vectors[:20], 10)
    assert not np.isin(found, removed).any()
    assert len(loaded.converted("exact")) == 480


def test_hnsw_rebuilds_once_removals_pass_a_tenth() -> None:
    vectors, ids = _unit_vectors(200, seed=40), _sparse_ids(200, seed=41)
    index = _filled("hnsw", vectors, ids)

    index.remove(ids[:30])

    assert len(index) == 170 == index._index.ntotal  # rebuilt: no tombstones left
    _, found = index.search(vectors[30:40], 1)
    np.testing.assert_array_equal(found[:, 0], ids[30:40])


def test_hnsw_graph_shape_is_a_parameter_kept_across_conversion() -> None:
    import faiss

    vectors, ids = _unit_vectors(100, seed=42), _sparse_ids(100, seed=43)
    index = VectorIndex(DIMENSION, "hnsw", hnsw_neighbours=8, hnsw_ef_construction=20)
    index.add(ids, vectors)

    for each in (index, index.converted("exact").converted("hnsw")):
        graph = faiss.downcast_index(each._index.index).hnsw
        assert graph.nb_neighbors(0) == 16  # 2 M links on the base layer
        assert graph.efConstruction == 20
