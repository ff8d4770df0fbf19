"""Checks against the WCEP development set in ../shared (skipped where it is absent)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from recommender import ArticleIndex, Recommender, load_articles, read_article_rows
from recommender.articles import Article
from recommender.dates import parse_published
from tests.conftest import WCEP_FILE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared,
    pytest.mark.skipif(not WCEP_FILE.exists(), reason="../shared/data/wcep is not here"),
]


def test_every_wcep_item_loads() -> None:
    batch = load_articles([WCEP_FILE])
    assert len(batch.articles) == 49_684
    assert batch.invalid == []
    assert len({article.id for article in batch.articles}) == 49_684


def test_a_wcep_sample_gets_related_lists_and_slots_on_the_right_side_of_its_date(
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
    published = {article.id: parse_published(article.published) for article in articles}
    filled = 0
    for article_id, slots in recommender.slots_many(ids).items():
        # A slot is empty rather than filler, and never on the wrong side of the date.
        moment = published[article_id]
        if slots.previous is not None:
            assert parse_published(slots.previous.published).end <= moment.start
        if slots.next is not None:
            assert parse_published(slots.next.published).start >= moment.end
        chosen = [slot.id for slot in (slots.previous, slots.next) if slot is not None]
        assert article_id not in chosen and len(set(chosen)) == len(chosen)
        filled += len(chosen)
    assert filled > 0
