"""The benchmark command's own logic (no timing assertions): recall, vector sets, the table."""

from __future__ import annotations

import os

import numpy as np
import pytest

from embeddings import HashingEmbedder
from eval.bench import runner as bench
from eval.bench.load_server import process_memory
from eval.bench.query import Latency, recall_at_k
from eval.bench.vectors import CachedEmbedder, clustered_vectors, story_vectors

pytestmark = pytest.mark.slow


def test_recall_counts_the_share_of_the_true_top_k_found() -> None:
    exact = np.asarray([[0.9, 0.8, 0.7]])
    found_ids = np.asarray([[4, 7, 9]])
    found_scores = np.asarray([[0.9, 0.7, 0.5]])  # the 0.8 one was missed

    assert recall_at_k(found_ids, found_scores, exact, k=3) == pytest.approx(2 / 3)


def test_recall_counts_a_tie_at_the_kth_score_as_a_hit() -> None:
    # Two articles with the same text have the same vector: either copy is a right answer.
    exact = np.asarray([[0.9, 0.8, 0.8, 0.1]])
    found_ids = np.asarray([[1, 3, 2]])
    found_scores = np.asarray([[0.9, 0.8, 0.8]])

    assert recall_at_k(found_ids, found_scores, exact, k=2) == 1.0


def test_recall_does_not_count_padding() -> None:
    exact = np.asarray([[0.5, 0.4]])
    assert recall_at_k(np.asarray([[3, -1]]), np.asarray([[0.5, 0.4]]), exact, k=2) == 0.5


def test_latency_percentiles_in_milliseconds() -> None:
    latency = Latency.of([0.001] * 99 + [0.101])
    assert latency.p50_ms == pytest.approx(1.0)
    assert latency.p99_ms == pytest.approx(2.0)
    assert latency.count == 100


def test_clustered_vectors_are_unit_rows_closer_within_a_cluster() -> None:
    vectors = clustered_vectors(2000, 64, seed=3, cluster_size=10)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors[:200] @ vectors.T
    np.fill_diagonal(similarities[:, :200], -1.0)
    # each vector's nearest neighbour is a cluster mate, far above two unrelated vectors
    assert np.median(similarities.max(axis=1)) > 0.6
    assert abs(float(np.median(similarities))) < 0.1


def test_story_vectors_share_a_centre_per_story() -> None:
    stories = np.asarray([5, 5, 9, 9, 5])
    vectors = story_vectors(stories, 128, seed=1)
    same = float(vectors[0] @ vectors[1])
    other = float(vectors[0] @ vectors[2])
    assert vectors.shape == (5, 128) and same > 0.5 > abs(other)


def test_cached_embedder_answers_known_texts_and_asks_the_fallback_for_others() -> None:
    fallback = HashingEmbedder(32)
    known = {"a text": np.ones(32, dtype=np.float32)}
    embedder = CachedEmbedder(known, fallback)

    vectors = embedder.encode(["a text", "another text"])

    assert (embedder.name, embedder.dimension) == (fallback.name, 32)
    np.testing.assert_array_equal(vectors[0], np.ones(32))
    np.testing.assert_array_equal(vectors[1], fallback.encode(["another text"])[0])
    assert embedder.encode([]).shape == (0, 32)


def test_process_memory_reads_this_process() -> None:
    rss, peak = process_memory(os.getpid())
    assert 0 < rss <= peak


def test_unknown_size_is_refused_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["query", "--sizes", "10k,5m"])
    assert "'5m'" in capsys.readouterr().err


def test_query_quick_prints_a_table_of_exact_and_hnsw_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench.main(["query", "--quick"])

    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| query")]
    methods = [line.split("|")[2].rsplit(",", 1)[1].strip() for line in table]
    assert methods == ["exact", "hnsw ef=200", "exact", "hnsw"]
    assert all("p99" in line for line in table)
    assert "recall@10 1.000" in table[0]
