"""Pseudo-relevance feedback: the query moves towards its best candidates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sparse

from recommender import ArticleIndex, InvalidInputError, Ranking, Recommender
from recommender.ranking.feedback import expanded_query
from tests.conftest import make_article


def test_expansion_is_the_scaled_mean_on_both_sides() -> None:
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    neighbours = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    terms = sparse.csr_matrix(np.array([[1.0, 0.0, 0.0]], dtype=np.float32))
    neighbour_terms = [sparse.csr_matrix(row[None, :]) for row in neighbours]
    dense, lexical = expanded_query(vector, terms, neighbours, neighbour_terms, 1.0)
    assert dense == pytest.approx([0.5, 0.25, 0.25])
    assert lexical.toarray()[0] == pytest.approx([0.5, 0.25, 0.25])
    assert dense.dtype == np.float32
    unchanged = expanded_query(vector, terms, neighbours[:0], [], 1.0)
    assert unchanged[0] is vector


def test_feedback_lifts_a_story_mate_the_query_shares_little_with(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    # "bridge" shares most words with the query and its body with "mate", which shares one
    # word with the query. A distractor shares two query words and nothing with the bridge:
    # without feedback it beats the mate; moved towards the bridge, the query ranks the mate
    # first.
    articles = [
        make_article(
            "query", "harbour crane strike dockers", "harbour crane strike dockers walkout"
        ),
        make_article("bridge", "harbour crane strike dockers union", "union talks wages pay deal"),
        make_article("mate", "dockers union talks", "union talks wages pay deal agreed"),
        make_article("distractor", "harbour crane museum", "harbour crane museum exhibition"),
        *(
            make_article(f"filler{n}", f"filler{n} garden", f"garden flowers spring {n}")
            for n in range(6)
        ),
    ]
    index = open_test_index()
    index.upsert(articles)
    plain = Recommender(index, Ranking(time_boost=0.0)).related("query", k=3)
    expanded = Recommender(
        index, Ranking(time_boost=0.0, feedback_weight=2.0, feedback_depth=1)
    ).related("query", k=3)
    plain_order = [hit.id for hit in plain]
    expanded_order = [hit.id for hit in expanded]
    assert plain_order.index("distractor") < plain_order.index("mate")
    assert expanded_order.index("mate") < expanded_order.index("distractor")
    assert all(-1.0 <= hit.score <= 1.0 for hit in expanded)


def test_feedback_settings_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="feedback_weight"):
        Ranking(feedback_weight=-0.5)
    with pytest.raises(InvalidInputError, match="feedback_depth"):
        Ranking(feedback_depth=0)
