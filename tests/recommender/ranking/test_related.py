"""Related articles and previous/next slots over hashing-embedder corpora.

The hashing embedder ranks by shared words, so corpora are built from topic vocabularies:
articles drawing on the same words are related, and a numpy oracle over the embedder's own
vectors says what the ranking must be. A near-duplicate is the same text with one sentence
changed; two articles on one topic share words but not word sequences, so they are not.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings import HashingEmbedder
from recommender import (
    Article,
    ArticleIndex,
    ArticleNotFoundError,
    InvalidInputError,
    Ranking,
    Recommender,
    RelatedArticle,
    RelatedFilters,
)
from recommender.index.options import IndexOptions
from recommender.ranking.slots import SLOT_RELEVANCE_FLOOR
from tests.conftest import make_article

Build = Callable[..., Recommender]


# -- corpora -----------------------------------------------------------------------------------


def _vocabulary(topic: str, size: int = 30) -> list[str]:
    return [f"{topic}{i}" for i in range(size)]


def _sentences(rng: random.Random, words: Callable[[], str], count: int) -> list[str]:
    return [" ".join(words() for _ in range(8)) for _ in range(count)]


def _body(sentences: Sequence[str]) -> str:
    return ". ".join(sentences) + "."


def _story(
    article_id: str, topic: str, seed: int, *, share: float = 1.0, sentences: int = 12, **fields
) -> Article:
    """An article whose words come from `topic` with probability `share`, else its own words.

    A higher share means more words in common with the topic's other articles.
    """
    rng = random.Random(seed)
    shared, own = _vocabulary(topic), _vocabulary(f"own{seed}x", 60)

    def word() -> str:
        return rng.choice(shared) if rng.random() < share else rng.choice(own)

    return make_article(
        article_id, f"{topic} {seed}", _body(_sentences(rng, word, sentences)), **fields
    )


def _with_one_sentence_changed(article: Article, new_id: str, seed: int, **fields) -> Article:
    """A near-duplicate: the same title and body, one sentence rewritten (an update, a reprint)."""
    sentences = article.body.rstrip(".").split(". ")
    rng = random.Random(seed)
    sentences[len(sentences) // 2] = " ".join(f"fresh{rng.randrange(10_000)}" for _ in range(8))
    return make_article(new_id, article.title, _body(sentences), **fields)


def _cosines(embedder: HashingEmbedder, articles: Sequence[Article]) -> dict[str, dict[str, float]]:
    """Oracle: cosine between every pair of articles, by id."""
    vectors = embedder.encode([article.text for article in articles])
    matrix = vectors @ vectors.T
    ids = [article.id for article in articles]
    return {a: {b: float(matrix[i, j]) for j, b in enumerate(ids)} for i, a in enumerate(ids)}


def _ranked(
    cosines: dict[str, float], query: str, candidates: Iterator[str] | None = None
) -> list[str]:
    pool = cosines.keys() if candidates is None else candidates
    return sorted((c for c in pool if c != query), key=lambda c: -cosines[c])


def _ids(hits: Sequence[RelatedArticle]) -> list[str]:
    return [hit.id for hit in hits]


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


# The rules below (exclusions, copies, filters, slot sides) hold whatever the scoring; they
# are checked against a plain cosine oracle, so they use plain dense scoring.
DENSE_ONLY = Ranking(dense_weight=1.0, dense_weight_long=1.0, time_boost=0.0, neighbour_weight=0.0)


@pytest.fixture
def build(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Build]:
    """Index the given articles in a fresh directory and return a Recommender over them."""
    opened: list[ArticleIndex] = []

    def _build(
        articles: Sequence[Article],
        ranking: Ranking = DENSE_ONLY,
        slot_floor: float = SLOT_RELEVANCE_FLOOR,
        **options: object,
    ) -> Recommender:
        index = ArticleIndex.open(
            tmp_path / f"index-{len(opened)}",
            embedder,
            writable=True,
            options=IndexOptions(**options),  # type: ignore[arg-type]
        )
        opened.append(index)
        index.upsert(list(articles))
        return Recommender(index, ranking, slot_floor=slot_floor)

    yield _build
    for index in opened:
        index.close()


def _topic_corpus() -> list[Article]:
    """Three topics, eight articles each, with spread dates."""
    return [
        _story(
            f"{topic}-{n}",
            topic,
            seed=100 * t + n,
            share=0.5 + 0.06 * n,
            published=f"2024-{t + 1:02d}-{n + 1:02d}T09:00:00Z",
        )
        for t, topic in enumerate(["harbour", "election", "vaccine"])
        for n in range(8)
    ]


# -- basic guarantees ----------------------------------------------------------------------------


def test_related_never_returns_the_query_and_fills_k(build: Build) -> None:
    recommender = build(_topic_corpus())

    for article_id in recommender.index.ids():
        hits = recommender.related(article_id, k=10)
        assert article_id not in _ids(hits)
        assert len(hits) == 10
        assert len(set(_ids(hits))) == 10


def test_related_returns_the_article_fields(build: Build) -> None:
    corpus = _topic_corpus()
    recommender = build(corpus)

    first = recommender.related("harbour-7", k=1)[0]

    source = next(article for article in corpus if article.id == first.id)
    assert (first.title, first.published, first.source) == (source.title, source.published, None)
    assert first.id.startswith("harbour-")


def test_related_ranks_the_same_topic_first(build: Build) -> None:
    recommender = build(_topic_corpus())

    hits = recommender.related("election-3", k=7)

    assert all(article_id.startswith("election-") for article_id in _ids(hits))


def test_scores_are_non_increasing(build: Build) -> None:
    recommender = build(_topic_corpus())

    for article_id in recommender.index.ids():
        scores = [hit.score for hit in recommender.related(article_id, k=23)]
        assert scores == sorted(scores, reverse=True)


def test_related_matches_a_brute_force_oracle(build: Build, embedder: HashingEmbedder) -> None:
    # Random articles over one shared vocabulary: no duplicates, a spread of cosines.
    rng = random.Random(5)
    common = _vocabulary("common", 80)
    corpus = [
        make_article(f"a{n}", f"title {n}", " ".join(rng.choices(common, k=rng.randint(15, 60))))
        for n in range(60)
    ]
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)
    k = 10

    for article in corpus[:20]:
        hits = recommender.related(article.id, k=k)
        expected = _ranked(cosines[article.id], article.id)[:k]
        # Scores equal the oracle's position by position; ids equal it up to exact ties.
        assert [hit.score for hit in hits] == pytest.approx(
            [cosines[article.id][c] for c in expected], abs=1e-5
        )
        for hit in hits:
            assert hit.score == pytest.approx(cosines[article.id][hit.id], abs=1e-5)
        kth = cosines[article.id][expected[-1]]
        surely_in = {c for c in expected if cosines[article.id][c] > kth + 1e-5}
        assert surely_in <= set(_ids(hits))


def test_unknown_id_raises_article_not_found(build: Build) -> None:
    recommender = build(_topic_corpus())

    with pytest.raises(ArticleNotFoundError):
        recommender.related("no-such-article")


@pytest.mark.parametrize("k", [0, -1, 1001])
def test_k_out_of_range_is_invalid_input(build: Build, k: int) -> None:
    recommender = build(_topic_corpus())

    with pytest.raises(InvalidInputError, match=str(k)):
        recommender.related("harbour-0", k=k)


def test_fewer_articles_than_k_returns_all_the_others(build: Build) -> None:
    recommender = build(_topic_corpus()[:4])

    assert sorted(_ids(recommender.related("harbour-0", k=10))) == [
        "harbour-1",
        "harbour-2",
        "harbour-3",
    ]


def test_an_unrelated_article_is_still_returned_to_fill_k(build: Build) -> None:
    # No minimum score by default: k results whenever k other articles exist.
    corpus = [
        _story("q", "harbour", seed=1),
        _story("near", "harbour", seed=2),
        make_article("far", "zebra quantum", "violin meadow"),
    ]
    recommender = build(corpus)

    assert _ids(recommender.related("q", k=2)) == ["near", "far"]


# -- near-duplicates ---------------------------------------------------------------------------


def _duplicate_corpus() -> list[Article]:
    query = _story("q", "harbour", seed=1, sentences=20)
    update = _with_one_sentence_changed(query, "q-update", seed=2)
    candidate = _story("c", "harbour", seed=3, sentences=20)
    reprint = _with_one_sentence_changed(candidate, "c-reprint", seed=4, source="Other Wire")
    others = [_story(f"h{n}", "harbour", seed=10 + n, share=0.6) for n in range(8)]
    unrelated = [_story(f"e{n}", "election", seed=30 + n) for n in range(4)]
    return [query, update, candidate, reprint, *others, *unrelated]


def test_a_near_duplicate_of_the_query_is_never_returned(
    build: Build, embedder: HashingEmbedder
) -> None:
    corpus = _duplicate_corpus()
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)
    assert _ranked(cosines["q"], "q")[0] == "q-update"  # it would come first on cosine alone

    for query, twin in [("q", "q-update"), ("q-update", "q")]:
        hits = recommender.related(query, k=10)
        assert twin not in _ids(hits)
        assert query not in _ids(hits)
        assert len(hits) == 10


def test_near_duplicates_among_candidates_collapse_to_one(
    build: Build, embedder: HashingEmbedder
) -> None:
    corpus = _duplicate_corpus()
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)
    top = _ranked(cosines["h0"], "h0")[:5]
    assert {"c", "c-reprint"} <= set(top) or {"q", "q-update"} <= set(top)

    for query in ["h0", "h1", "e0"]:
        hits = _ids(recommender.related(query, k=12))
        assert len(hits) == 12  # 14 others; two pairs collapse to one each
        assert len({"c", "c-reprint"} & set(hits)) == 1
        assert len({"q", "q-update"} & set(hits)) == 1


def test_the_better_ranked_copy_stands_for_both(build: Build, embedder: HashingEmbedder) -> None:
    corpus = _duplicate_corpus()
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)["h2"]

    hits = _ids(recommender.related("h2", k=12))

    better = "c" if cosines["c"] >= cosines["c-reprint"] else "c-reprint"
    assert better in hits


def test_a_different_article_on_the_same_story_is_not_a_duplicate(build: Build) -> None:
    corpus = _duplicate_corpus()
    recommender = build(corpus)

    hits = _ids(recommender.related("q", k=3))

    assert hits[0] in {"c", "c-reprint"}


# -- filters -----------------------------------------------------------------------------------


def _low_ranked_eligible_corpus() -> list[Article]:
    """A query, 30 close articles (2024) and 12 unrelated ones (2020 or within days of it)."""
    close = [
        _story(f"close-{n}", "harbour", seed=n, share=0.8, published=f"2023-0{1 + n % 9}-15")
        for n in range(30)
    ]
    far = [
        _story(
            f"far-{n}",
            f"distant{n}",
            seed=200 + n,
            published=f"2024-06-{n + 2:02d}T08:00:00Z" if n % 2 else f"2020-03-{n + 1:02d}",
        )
        for n in range(12)
    ]
    query = _story("q", "harbour", seed=999, published="2024-06-01T12:00:00Z")
    return [query, *close, *far]


@pytest.mark.slow
@pytest.mark.parametrize("index_type", ["exact", "hnsw"])
@pytest.mark.parametrize(
    ("filters", "eligible"),
    [
        (RelatedFilters(until="2020-12-31"), {f"far-{n}" for n in range(0, 12, 2)}),
        (RelatedFilters(since="2024-06-01"), {f"far-{n}" for n in range(1, 12, 2)}),
        (RelatedFilters(max_age_days=30), {f"far-{n}" for n in range(1, 12, 2)}),
        (
            RelatedFilters(exclude_ids=frozenset(f"close-{n}" for n in range(30))),
            {f"far-{n}" for n in range(12)},
        ),
    ],
)
def test_filters_still_give_k_results_when_the_eligible_rank_low(
    build: Build, index_type: str, filters: RelatedFilters, eligible: set[str]
) -> None:
    recommender = build(_low_ranked_eligible_corpus(), index_type=index_type)
    unfiltered = _ids(recommender.related("q", k=30))
    assert not set(unfiltered) & eligible  # the eligible ones all rank below 30 others

    hits = recommender.related("q", k=5, filters=filters)

    assert len(hits) == 5
    assert set(_ids(hits)) <= eligible
    all_eligible = recommender.related("q", k=40, filters=filters)
    assert set(_ids(all_eligible)) == eligible
    scores = [hit.score for hit in all_eligible]
    assert scores == sorted(scores, reverse=True)


def test_deep_filters_reach_past_the_first_search_blocks(
    build: Build, embedder: HashingEmbedder
) -> None:
    # 150 articles; excluding the best 100 (or allowing 50 by date) needs several searches.
    rng = random.Random(11)
    common = _vocabulary("common", 80)
    corpus = [
        make_article(
            f"a{n:03d}",
            f"title {n}",
            " ".join(rng.choices(common, k=rng.randint(15, 60))),
            published="2020-01-01" if n % 3 else "2024-01-01",
        )
        for n in range(150)
    ]
    recommender = build(corpus)
    ranked = _ranked(_cosines(embedder, corpus)["a000"], "a000")
    excluded = frozenset(ranked[:100])

    past_exclusions = recommender.related(
        "a000", k=10, filters=RelatedFilters(exclude_ids=excluded)
    )
    recent = recommender.related("a000", k=60, filters=RelatedFilters(since="2023-01-01"))

    assert len(past_exclusions) == 10
    assert not set(_ids(past_exclusions)) & excluded
    assert set(_ids(past_exclusions)) <= set(ranked[100:115])
    assert len(recent) == 49  # a000 is itself one of the 50 recent articles
    assert set(_ids(recent)) == {f"a{n:03d}" for n in range(3, 150, 3)}


def test_exclude_ids_drops_them_and_keeps_the_order(build: Build) -> None:
    recommender = build(_topic_corpus())
    plain = _ids(recommender.related("vaccine-2", k=8))

    hits = recommender.related(
        "vaccine-2",
        k=6,
        filters=RelatedFilters(exclude_ids=frozenset({plain[0], plain[3], "nope"})),
    )

    assert _ids(hits) == [plain[1], plain[2], plain[4], plain[5], plain[6], plain[7]]


_WINDOW_CORPUS = {
    # id: (published, inside since="2024-03-01" / until="2024-03-10")
    "first-instant": ("2024-03-01T00:00:00Z", True),
    "first-day": ("2024-03-01", True),
    "middle": ("2024-03-05T12:00:00+05:00", True),
    "last-day": ("2024-03-10", True),
    "last-evening": ("2024-03-10T23:59:59Z", True),
    "too-early": ("2024-02-29T23:59:59Z", False),
    "next-midnight": ("2024-03-11T00:00:00Z", False),
    "next-day": ("2024-03-11", False),
    "late-offset": ("2024-03-10T23:30:00-02:00", False),  # 01:30Z on the 11th
    "undated": (None, False),
}


@pytest.mark.parametrize(
    ("since", "until"), [("2024-03-01", "2024-03-10"), (None, "2024-03-10"), ("2024-03-01", None)]
)
def test_since_and_until_keep_the_window_and_a_bare_until_covers_its_day(
    build: Build, since: str | None, until: str | None
) -> None:
    corpus = [_story("q", "harbour", seed=1, published="2024-03-05T10:00:00Z")]
    corpus += [
        _story(article_id, "harbour", seed=10 + n, share=0.7, published=published)
        for n, (article_id, (published, _)) in enumerate(_WINDOW_CORPUS.items())
    ]
    recommender = build(corpus)

    hits = recommender.related("q", k=20, filters=RelatedFilters(since=since, until=until))

    start, end = _epoch("2024-03-01T00:00:00"), _epoch("2024-03-11T00:00:00")
    expected = set()
    for article_id, (published, _) in _WINDOW_CORPUS.items():
        if published is None:
            continue
        moment = datetime.fromisoformat(published)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if (since is None or moment.timestamp() >= start) and (
            until is None or moment.timestamp() < end
        ):
            expected.add(article_id)
    assert set(_ids(hits)) == expected
    if since and until:
        assert expected == {key for key, (_, inside) in _WINDOW_CORPUS.items() if inside}


def test_max_age_days_is_relative_to_the_article_both_ways(build: Build) -> None:
    ages = {"d-3": -3, "d+3": 3, "d-9": -9.9, "d+9": 9.9, "d-11": -10.5, "d+11": 10.5, "d+40": 40}
    query_time = _epoch("2024-06-15T12:00:00")
    corpus = [_story("q", "harbour", seed=1, published="2024-06-15T12:00:00Z")]
    for n, (article_id, days) in enumerate(ages.items()):
        moment = datetime.fromtimestamp(query_time + days * 86_400, tz=UTC)
        corpus.append(
            _story(article_id, "harbour", seed=20 + n, share=0.7, published=moment.isoformat())
        )
    corpus.append(_story("undated", "harbour", seed=50, share=0.9))
    recommender = build(corpus)

    hits = recommender.related("q", k=20, filters=RelatedFilters(max_age_days=10))

    assert set(_ids(hits)) == {"d-3", "d+3", "d-9", "d+9"}


def test_max_age_days_is_ignored_for_an_undated_article(build: Build) -> None:
    corpus = [*_topic_corpus(), _story("undated", "harbour", seed=77)]
    recommender = build(corpus)

    hits = recommender.related("undated", k=10, filters=RelatedFilters(max_age_days=1))

    assert _ids(hits) == _ids(recommender.related("undated", k=10))


def test_min_score_cuts_the_tail_only(build: Build, embedder: HashingEmbedder) -> None:
    corpus = _topic_corpus()
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)["harbour-4"]
    plain = recommender.related("harbour-4", k=23)
    threshold = plain[9].score - 1e-4

    hits = recommender.related("harbour-4", k=23, filters=RelatedFilters(min_score=threshold))

    assert _ids(hits) == _ids(plain)[: len(hits)]
    assert all(hit.score >= threshold for hit in hits)
    assert {c for c, score in cosines.items() if score > threshold + 1e-5} - {"harbour-4"} <= set(
        _ids(hits)
    )
    assert len(hits) < 23


@pytest.mark.parametrize(
    "make",
    [
        lambda: RelatedFilters(since="yesterday"),
        lambda: RelatedFilters(until="2024-13-01"),
        lambda: RelatedFilters(max_age_days=-1),
    ],
)
def test_bad_filters_are_invalid_input(make: Callable[[], RelatedFilters]) -> None:
    with pytest.raises(InvalidInputError):
        make()


# -- batches and free text -----------------------------------------------------------------------


def test_related_many_equals_related_one_by_one(build: Build) -> None:
    recommender = build(_duplicate_corpus() + _topic_corpus())
    ids = sorted(recommender.index.ids())
    filters = RelatedFilters(exclude_ids=frozenset({"h3"}))

    for current in (None, filters):
        batch = recommender.related_many(ids, k=7, filters=current)
        assert list(batch) == ids
        for article_id in ids:
            assert batch[article_id] == recommender.related(article_id, k=7, filters=current)


def test_related_to_text_does_not_index_the_text(build: Build) -> None:
    recommender = build(_topic_corpus())
    index = recommender.index
    before = (len(index), index.info().generation, sorted(index.ids()), len(index.vectors))

    hits = recommender.related_to_text("harbour3 harbour7 harbour9", "harbour1 harbour2", k=5)

    assert len(hits) == 5
    assert all(article_id.startswith("harbour-") for article_id in _ids(hits))
    assert (len(index), index.info().generation, sorted(index.ids()), len(index.vectors)) == before


def test_related_to_text_of_an_indexed_text_matches_related_by_id(build: Build) -> None:
    corpus = _duplicate_corpus()
    recommender = build(corpus)
    query = corpus[0]

    by_text = recommender.related_to_text(query.title, query.body, k=8)
    by_id = recommender.related(query.id, k=8)

    # the text is a duplicate of "q" (and so of "q-update"): neither may come back
    assert not {"q", "q-update"} & set(_ids(by_text))
    assert _ids(by_text) == _ids(by_id)
    assert [hit.score for hit in by_text] == pytest.approx([hit.score for hit in by_id], abs=1e-6)


def test_related_to_text_needs_some_text(build: Build) -> None:
    recommender = build(_topic_corpus())

    with pytest.raises(InvalidInputError):
        recommender.related_to_text("  ", "")


# -- previous/next slots ---------------------------------------------------------------------------


def _slot_corpus(query_published: str | None) -> list[Article]:
    """A query plus candidates on every side of it, the strongest ones on neither side."""
    spec = [
        ("same-time", 0.95, "2024-05-10T12:00:00Z"),
        ("same-instant-elsewhere", 0.92, "2024-05-10T14:00:00+02:00"),
        ("undated", 0.9, None),
        ("early-strong", 0.75, "2024-05-01T08:00:00Z"),
        ("early-weak", 0.35, "2024-05-10T11:59:59Z"),
        ("late-strong", 0.7, "2024-05-20T00:00:00Z"),
        ("late-weak", 0.3, "2024-05-10T12:00:01Z"),
        ("unrelated-early", 0.0, "2024-04-01T00:00:00Z"),
        ("unrelated-late", 0.0, "2024-06-01T00:00:00Z"),
    ]
    corpus = [_story("q", "harbour", seed=1, published=query_published)]
    corpus += [
        _story(article_id, "harbour", seed=10 + n, share=share, published=published)
        for n, (article_id, share, published) in enumerate(spec)
    ]
    return corpus


def test_slots_take_the_most_related_strictly_earlier_and_later(
    build: Build, embedder: HashingEmbedder
) -> None:
    corpus = _slot_corpus("2024-05-10T12:00:00Z")
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)["q"]
    earlier = ["early-strong", "early-weak", "unrelated-early"]
    later = ["late-strong", "late-weak", "unrelated-late"]
    best_earlier = max(earlier, key=cosines.__getitem__)
    best_later = max(later, key=cosines.__getitem__)
    # the corpus is discriminating: the overall best sit on neither side
    assert set(_ranked(cosines, "q")[:3]) == {"same-time", "same-instant-elsewhere", "undated"}

    slots = recommender.slots("q")

    assert slots.previous is not None and slots.next is not None
    assert (slots.previous.id, slots.next.id) == (best_earlier, best_later)
    assert slots.previous.score == pytest.approx(cosines[best_earlier], abs=1e-5)


def test_an_undated_article_has_no_slots(build: Build) -> None:
    # Without a date nothing is "previous" or "next" (the old rule filled both with the two
    # best related articles: a reader takes the labels literally).
    recommender = build(_slot_corpus(None), slot_floor=-1.0)

    slots = recommender.slots("q")

    assert (slots.previous, slots.next) == (None, None)


@pytest.mark.parametrize("side", ["newest", "oldest"])
def test_an_empty_side_stays_empty(build: Build, embedder: HashingEmbedder, side: str) -> None:
    # The old rule filled it with the best remaining related article (on the wrong side).
    corpus = _slot_corpus("2030-01-01T00:00:00Z" if side == "newest" else "2000-01-01T00:00:00Z")
    recommender = build(corpus, slot_floor=-1.0)
    cosines = _cosines(embedder, corpus)["q"]
    dated_others = [a.id for a in corpus if a.published is not None and a.id != "q"]
    best_dated = max(dated_others, key=cosines.__getitem__)

    slots = recommender.slots("q")

    empty, natural = (
        (slots.next, slots.previous) if side == "newest" else (slots.previous, slots.next)
    )
    assert empty is None
    assert natural is not None and natural.id == best_dated and natural.kind == "related"


def test_slots_skip_the_query_duplicate_and_never_show_two_copies(
    build: Build, embedder: HashingEmbedder
) -> None:
    query = _story("q", "harbour", seed=1, sentences=20, published="2024-05-10T12:00:00Z")
    corpus = [
        query,
        _with_one_sentence_changed(query, "q-earlier-copy", seed=2, published="2024-05-09"),
        _with_one_sentence_changed(query, "q-later-copy", seed=3, published="2024-05-11"),
    ]
    story = _story("c", "harbour", seed=4, sentences=20, published="2024-05-01T00:00:00Z")
    corpus += [
        story,
        _with_one_sentence_changed(story, "c-reprint", seed=5, published="2024-05-20T00:00:00Z"),
        _story("other", "harbour", seed=6, share=0.4, published="2024-05-30T00:00:00Z"),
    ]
    recommender = build(corpus)
    cosines = _cosines(embedder, corpus)["q"]
    assert cosines["c-reprint"] > cosines["other"]  # on cosine alone the reprint would win

    slots = recommender.slots("q")

    assert slots.previous is not None and slots.next is not None
    assert (slots.previous.id, slots.next.id) == ("c", "other")


def test_a_lone_article_has_no_slots(build: Build) -> None:
    recommender = build([_story("alone", "harbour", seed=1, published="2024-01-01")])

    slots = recommender.slots("alone")

    assert (slots.previous, slots.next) == (None, None)


def test_with_one_other_article_it_takes_its_side(build: Build) -> None:
    recommender = build(
        [
            _story("new", "harbour", seed=1, published="2024-01-02"),
            _story("old", "vaccine", seed=2, published="2024-01-01"),
        ],
        slot_floor=-1.0,
    )

    for query, expected in [("new", ("old", None)), ("old", (None, "new"))]:
        slots = recommender.slots(query)
        assert (
            slots.previous.id if slots.previous else None,
            slots.next.id if slots.next else None,
        ) == expected


def test_a_bare_date_is_neither_before_nor_after_times_on_that_day(build: Build) -> None:
    corpus = [
        _story("q", "harbour", seed=1, published="2024-05-10"),
        _story("morning", "harbour", seed=2, share=0.95, published="2024-05-10T06:00:00Z"),
        _story("day-before", "harbour", seed=3, share=0.4, published="2024-05-09T23:59:59Z"),
        _story("day-after", "harbour", seed=4, share=0.4, published="2024-05-11T00:00:00Z"),
    ]
    recommender = build(corpus)

    slots = recommender.slots("q")

    assert slots.previous is not None and slots.next is not None
    assert (slots.previous.id, slots.next.id) == ("day-before", "day-after")


@pytest.mark.parametrize("seed", range(4))
def test_slots_match_an_oracle_on_random_dated_corpora(
    build: Build, embedder: HashingEmbedder, seed: int
) -> None:
    rng = random.Random(seed)
    times = [None, "2024-02-01T10:00:00Z", "2024-02-02T10:00:00Z", "2024-02-03T10:00:00Z"]
    times += [f"2024-02-{day:02d}T{hour:02d}:00:00Z" for day in (4, 5) for hour in (1, 9, 17)]
    corpus = [
        _story(
            f"a{n}",
            "harbour",
            seed=1000 * seed + n,
            share=rng.random(),
            published=rng.choice(times),
        )
        for n in range(20)
    ]
    recommender = build(corpus, slot_floor=-1.0)
    cosines = _cosines(embedder, corpus)
    moments = {a.id: None if a.published is None else _epoch(a.published[:-1]) for a in corpus}

    slots = recommender.slots_many([a.id for a in corpus])

    for article in corpus:
        query, scores = article.id, cosines[article.id]
        when = moments[query]
        before = [
            c for c in scores if when is not None and moments[c] is not None and moments[c] < when
        ]
        after = [
            c for c in scores if when is not None and moments[c] is not None and moments[c] > when
        ]
        previous, following = slots[query].previous, slots[query].next
        # Every article is its own story here: each slot is the most related article on
        # its side, or empty when the side has none (never one from the other side).
        assert (previous is not None) == bool(before)
        assert (following is not None) == bool(after)
        if previous is not None:
            assert previous.id in before and previous.kind == "related"
            assert previous.score == pytest.approx(max(scores[c] for c in before), abs=1e-5)
        if following is not None:
            assert following.id in after and following.kind == "related"
            assert following.score == pytest.approx(max(scores[c] for c in after), abs=1e-5)


def test_slots_many_equals_slots_one_by_one(build: Build) -> None:
    recommender = build(_slot_corpus("2024-05-10T12:00:00Z") + _topic_corpus())
    ids = sorted(recommender.index.ids())

    batch = recommender.slots_many(ids)

    assert batch == {article_id: recommender.slots(article_id) for article_id in ids}


# -- properties --------------------------------------------------------------------------------

_WORDS = [f"w{i}" for i in range(12)]
_DATES = [None, "2024-01-01", "2024-01-02T10:00:00Z", "2024-01-02T10:00:00Z", "2024-01-03"]
_corpora = st.lists(
    st.tuples(
        st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4),
        st.lists(st.sampled_from(_WORDS), max_size=15),
        st.sampled_from(_DATES),
    ),
    min_size=1,
    max_size=10,
)
_properties = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _articles(rows: list[tuple[list[str], list[str], str | None]]) -> list[Article]:
    return [
        make_article(f"p{n}", " ".join(title), " ".join(body), published=published)
        for n, (title, body, published) in enumerate(rows)
    ]


def _everything(recommender: Recommender, k: int) -> tuple[dict, dict]:
    ids = sorted(recommender.index.ids())
    return recommender.related_many(ids, k), recommender.slots_many(ids)


@pytest.mark.slow
@_properties
@given(rows=_corpora, k=st.integers(min_value=1, max_value=12))
def test_property_related_lists_are_well_formed(
    embedder: HashingEmbedder, rows: list, k: int
) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        ArticleIndex.open(Path(directory), embedder, writable=True) as index,
    ):
        index.upsert(_articles(rows))
        recommender = Recommender(index)
        for article_id in sorted(index.ids()):
            hits = recommender.related(article_id, k=k)
            assert article_id not in _ids(hits)
            assert len(hits) <= k
            assert len(set(_ids(hits))) == len(hits)
            scores = [hit.score for hit in hits]
            assert scores == sorted(scores, reverse=True)
            slots = recommender.slots(article_id)
            assert article_id not in {s.id for s in (slots.previous, slots.next) if s}


@pytest.mark.slow
@_properties
@given(rows=_corpora, k=st.integers(min_value=1, max_value=12))
def test_property_save_then_load_gives_identical_results(
    embedder: HashingEmbedder, rows: list, k: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        with ArticleIndex.open(Path(directory), embedder, writable=True) as index:
            index.upsert(_articles(rows))
            index.save()
            before = _everything(Recommender(index), k)
        with ArticleIndex.open(Path(directory), embedder) as reopened:
            assert len(reopened.vectors) == len(reopened)
            assert _everything(Recommender(reopened), k) == before


@pytest.mark.slow
@_properties
@given(rows=_corpora)
def test_property_upserting_unchanged_text_is_a_no_op(
    embedder: HashingEmbedder, rows: list
) -> None:
    articles = _articles(rows)
    with (
        tempfile.TemporaryDirectory() as directory,
        ArticleIndex.open(Path(directory), embedder, writable=True) as index,
    ):
        index.upsert(articles)
        generation = index.info().generation
        before = _everything(Recommender(index), 5)

        report = index.upsert(articles)

        assert (report.added, report.updated, report.encoded) == (0, 0, 0)
        assert report.unchanged == len(articles)
        assert index.info().generation == generation
        assert _everything(Recommender(index), 5) == before


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_min_score_must_be_finite(value: float) -> None:
    with pytest.raises(InvalidInputError, match="min_score"):
        RelatedFilters(min_score=value)
