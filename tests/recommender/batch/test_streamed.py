"""StreamedTagger: serves the scores a pipeline's copy of a tagger gave vectors, by the vector.

No Ray here: the scores are "remembered" as the pipeline's output would be.
"""

from __future__ import annotations

import numpy as np

from embeddings import HashingEmbedder
from recommender.batch.streamed import StreamedTagger
from recommender.topics import TopicTagger, default_taxonomy
from recommender.topics.zero_shot import ZeroShotTagger


class _Counting(ZeroShotTagger):
    """The real zero-shot tagger, counting the rows it scores."""

    rows = 0

    def scores(self, vectors: np.ndarray, terms: object = None) -> np.ndarray:
        self.rows += len(vectors)
        return super().scores(vectors)


def _tagger() -> _Counting:
    tagger = _Counting.from_taxonomy(default_taxonomy(), HashingEmbedder(dimension=64))
    assert isinstance(tagger, _Counting)
    return tagger


def test_remembered_vectors_are_served_and_the_rest_scored_here() -> None:
    inner = _tagger()
    vectors = HashingEmbedder(dimension=64).encode([f"story number {i}" for i in range(6)])
    expected = inner.scores(vectors)
    inner.rows = 0
    streamed = StreamedTagger(inner)
    streamed.remember(vectors[:4], expected[:4])

    scores = streamed.scores(vectors[[3, 5, 0, 4]])

    np.testing.assert_array_equal(scores, expected[[3, 5, 0, 4]])
    assert inner.rows == streamed.scored_here == 2  # rows 5 and 4: never remembered
    assert isinstance(streamed, TopicTagger)
    assert streamed.scores(vectors[:0]).shape == (0, len(inner.labels))


def test_served_scores_become_the_inner_taggers_topics_at_any_threshold() -> None:
    inner = _tagger()
    vectors = HashingEmbedder(dimension=64).encode(["markets fell", "a cup final", "rain"])
    streamed = StreamedTagger(inner)
    streamed.remember(vectors, inner.scores(vectors))
    inner.rows = 0

    for threshold in (None, 0.0, 0.5, 1.0):
        assert streamed.tag(vectors, threshold=threshold) == inner.tag(vectors, threshold=threshold)
    assert streamed.scored_here == 0
    assert (streamed.labels, streamed.iptc, streamed.threshold) == (
        inner.labels,
        inner.iptc,
        inner.threshold,
    )
