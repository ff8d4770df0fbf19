"""Checks against the WCEP development set in ../shared (skipped where it is absent)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from recommender import ArticleIndex, Recommender, load_articles, read_article_rows
from recommender.articles import Article
from tests.conftest import WCEP_FILE

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(not WCEP_FILE.exists(), reason="../shared/data/wcep is not here"),
]


def test_every_wcep_item_loads() -> None:
    batch = load_articles([WCEP_FILE])
    assert len(batch.articles) == 49_684
    assert batch.invalid == []
    assert len({article.id for article in batch.articles}) == 49_684


def test_a_wcep_sample_gets_related_lists_and_full_slots(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    rows = itertools.islice(read_article_rows(WCEP_FILE), 3000)
    articles = [row for _, row in rows if isinstance(row, Article)]
    index = open_test_index()
    index.upsert(articles)
    recommender = Recommender(index)
    ids = [article.id for article in articles[::100]]
    for article_id, related in recommender.related_many(ids, k=10).items():
        assert len(related) == 10
        assert article_id not in {hit.id for hit in related}
    for article_id, slots in recommender.slots_many(ids).items():
        assert slots.previous is not None and slots.next is not None
        assert slots.previous.id != slots.next.id
        assert article_id not in (slots.previous.id, slots.next.id)
