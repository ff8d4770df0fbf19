"""The slots' related fallback: the shared-neighbour bonus orders the side's candidates but
counts toward the slot floor only up to SLOT_FLOOR_BONUS_CAP (hashing embedder)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender import Article, ArticleIndex, Ranking, Recommender
from recommender.ranking.slots import SLOT_FLOOR_BONUS_CAP, SLOT_RELEVANCE_FLOOR

HARBOUR = [f"harbour{n}" for n in range(40)]
MUSEUM = [f"museum{n}" for n in range(40)]


def _article(article_id: str, words: list[str], seed: int, day: int) -> Article:
    rng = random.Random(seed)
    return Article(
        id=article_id,
        title=" ".join(rng.sample(words, 5)),
        body=" ".join(rng.choice(words) for _ in range(60)),
        published=f"2024-03-{day:02d}T10:00:00Z",
    )


def _corpus(shared_words: int) -> list[Article]:
    """A harbour story before the query, a few museum articles, and one later museum
    article that borrows `shared_words` of the harbour's words: the only later article.
    On so small an index every article's nearest neighbours are nearly everyone's, so
    the later article gets almost the whole neighbour bonus whatever its own score."""
    earlier = [_article(f"harbour-{n}", HARBOUR, seed=n, day=1 + n) for n in range(5)]
    museum = [_article(f"museum-{n}", MUSEUM, seed=50 + n, day=1 + n) for n in range(3)]
    later = Article(
        id="later",
        title=" ".join(MUSEUM[:5]),
        body=" ".join(HARBOUR[:shared_words] + MUSEUM[5:]),
        published="2024-03-20T10:00:00Z",
    )
    query = _article("query", HARBOUR, seed=99, day=10)
    return [*earlier, *museum, query, later]


@pytest.fixture
def recommender(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Recommender]:
    index = ArticleIndex.open(tmp_path / "index", embedder, writable=True)
    yield Recommender(index, Ranking(), list_depth=0)
    index.close()


def _scores(recommender: Recommender) -> tuple[float, float]:
    """The later article's blended score against the query and its pool score (with the
    neighbour bonus: the related list's)."""
    index = recommender.index
    blended = recommender.pair_scores(index.row_id("query"), np.asarray([index.row_id("later")]))
    pooled = {hit.id: hit.score for hit in recommender.related("query", k=9)}["later"]
    return float(blended[0]), pooled


def test_an_article_clearing_the_floor_only_with_its_whole_neighbour_bonus_is_no_slot(
    recommender: Recommender,
) -> None:
    recommender.index.upsert(_corpus(shared_words=10))
    blended, pooled = _scores(recommender)
    # The case: over the slot floor with its whole bonus, under it with the bonus capped.
    assert pooled >= recommender.slot_floor == SLOT_RELEVANCE_FLOOR
    assert pooled - blended > SLOT_FLOOR_BONUS_CAP
    assert blended + SLOT_FLOOR_BONUS_CAP < SLOT_RELEVANCE_FLOOR

    assert recommender.slots("query").next is None
    # Ranked for the stored lists, the same.
    query_row = recommender.index.row_id("query")
    stored = Recommender(recommender.index, recommender.ranking).ranked_lists(["query"])
    assert stored[query_row].next is None


def test_an_article_clearing_the_floor_with_its_bonus_capped_is_the_related_slot(
    recommender: Recommender,
) -> None:
    recommender.index.upsert(_corpus(shared_words=12))
    blended, pooled = _scores(recommender)
    assert blended + SLOT_FLOOR_BONUS_CAP >= SLOT_RELEVANCE_FLOOR
    assert pooled >= SLOT_RELEVANCE_FLOOR

    following = recommender.slots("query").next
    assert following is not None
    assert (following.id, following.kind) == ("later", "related")


def test_without_a_slot_floor_the_side_is_filled_whatever_the_bonus(
    recommender: Recommender,
) -> None:
    recommender.index.upsert(_corpus(shared_words=10))
    recommender.slot_floor = -1.0

    following = recommender.slots("query").next
    assert following is not None and following.id == "later"
