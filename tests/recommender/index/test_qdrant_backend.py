"""The Qdrant vector backend (qdrant-client's local mode) against FAISS exact search.

The same corpus is indexed twice, once per backend, and every answer (related with and
without filters, slots, similar, after upserts and deletes) must be the same list with the
same scores. The payload filters are checked on their own: for boundary moments taken from
the corpus itself, Qdrant's conditions select exactly the rows of the catalog's bitmap.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from embeddings import HashingEmbedder
from recommender import (
    Article,
    ArticleIndex,
    IndexMismatchError,
    InvalidInputError,
    Ranking,
    Recommender,
    RelatedArticle,
    RelatedFilters,
    Settings,
    open_index,
)
from recommender.dates import PublishedTime
from recommender.index.options import IndexOptions
from recommender.index.vectors.faiss_index import bitmap_of
from recommender.index.vectors.protocol import (
    PayloadConditions,
    RowSelection,
    earlier_than,
    later_than,
)
from recommender.index.vectors.qdrant_index import QdrantVectorIndex
from recommender.topics import ZeroShotTagger
from tests.conftest import make_article
from tests.topics_corpus import TAXONOMY, keyword_text

pytestmark = pytest.mark.slow

Open = Callable[..., ArticleIndex]
LABELS = ("sport", "politics", "disaster")
DENSE_ONLY = Ranking(dense_weight=1.0, dense_weight_long=1.0, time_boost=0.0)
# A shallow pool sends most lists past it, into the filtered dense stream.
SHALLOW = Ranking(pool_depth=6)


def _published(n: int, rng: random.Random) -> str | None:
    day = f"2024-{1 + n % 6:02d}-{1 + (7 * n) % 27:02d}"
    kind = n % 5
    if kind == 0:
        return None
    if kind == 1:
        return day  # a bare date: a whole day
    offset = rng.choice(["Z", "+02:00", "-05:00"])
    return f"{day}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00{offset}"


def _corpus(count: int = 60, seed: int = 5) -> list[Article]:
    """Keyword stories on three topics, with instants, bare dates, undated ones, and a copy."""
    rng = random.Random(seed)
    articles = []
    for n in range(count):
        labels = [LABELS[n % 3]] + ([LABELS[(n + 1) % 3]] if n % 4 == 0 else [])
        noise = " ".join(f"word{rng.randrange(60)}" for _ in range(rng.randint(2, 40)))
        text = f"{keyword_text(labels, rng, words=rng.randint(3, 10))} {noise}"
        articles.append(
            make_article(f"a{n:02d}", f"{labels[0]} {n}", text, published=_published(n, rng))
        )
    copy = articles[7]
    # A near-duplicate, one word longer: an exact copy would tie, and engines break ties
    # each their own way (FAISS by row order, Qdrant otherwise), which is no disagreement.
    articles.append(
        make_article("copy-7", copy.title, f"{copy.body} word1", published=copy.published)
    )
    # Published on a day that holds other articles: neither before nor after their times.
    same_day = f"{keyword_text(['sport'], rng)} word3 word5 word8 word13 word21 word34"
    articles.append(make_article("same-day", "sport x", same_day, published="2024-03-03"))
    return articles


@pytest.fixture
def open_pair(
    tmp_path: Path, embedder: HashingEmbedder, open_test_index: Callable[..., ArticleIndex]
) -> Open:
    """Opens indexes with the keyword tagger (`open_test_index` closes them after)."""

    def _open(name: str, **options: object) -> ArticleIndex:
        options.setdefault("tagger", lambda: ZeroShotTagger.from_taxonomy(TAXONOMY, embedder))
        return open_test_index(tmp_path / name, **options)

    return _open


@pytest.fixture
def indexes(open_pair: Open) -> tuple[ArticleIndex, ArticleIndex]:
    """The same corpus in FAISS (exact) and in an in-memory Qdrant collection."""
    faiss_index = open_pair("faiss", index_type="exact")
    qdrant_index = open_pair("qdrant", vector_backend="qdrant", qdrant_url=":memory:")
    for index in (faiss_index, qdrant_index):
        index.upsert(_corpus())
    return faiss_index, qdrant_index


def _answers(hits: list[RelatedArticle]) -> list[tuple[str, float]]:
    return [(hit.id, round(hit.score, 5)) for hit in hits]


def _assert_same_ranking(found: list[RelatedArticle], expected: list[RelatedArticle]) -> None:
    """The same scores in the same order and, within each score, the same articles.

    Exactly equal scores (a short text sharing no word with several others scores 0 with
    each) are ordered by each engine its own way; where the list is cut at k, which of the
    tied articles make it is theirs to choose too, so the last tie only has to agree in size.
    """
    assert [score for _, score in _answers(found)] == [score for _, score in _answers(expected)]
    groups: dict[float, tuple[set[str], set[str]]] = {}
    for (got, score), (want, _) in zip(_answers(found), _answers(expected), strict=True):
        groups.setdefault(score, (set(), set()))
        groups[score][0].add(got)
        groups[score][1].add(want)
    last = _answers(expected)[-1][1] if expected else None
    for score, (got_ids, want_ids) in groups.items():
        if score != last:
            assert got_ids == want_ids, score


FILTERS = [
    RelatedFilters(),
    RelatedFilters(since="2024-03-01"),
    RelatedFilters(until="2024-02-10"),
    RelatedFilters(since="2024-02-03", until="2024-04-20"),
    RelatedFilters(max_age_days=20),
    RelatedFilters(max_age_days=0.5),
    RelatedFilters(topic="disaster"),
    RelatedFilters(topic="politics", since="2024-03-01"),
    RelatedFilters(exclude_ids=frozenset({"a01", "a02", "a04", "a10"})),
]


@pytest.mark.parametrize(
    "ranking", [Ranking(), DENSE_ONLY, SHALLOW], ids=["hybrid", "dense", "deep"]
)
@pytest.mark.parametrize("filters", FILTERS)
def test_related_agrees_with_faiss_exact(
    indexes: tuple[ArticleIndex, ArticleIndex], ranking: Ranking, filters: RelatedFilters
) -> None:
    faiss_index, qdrant_index = indexes
    ids = list(faiss_index.ids())
    expected = Recommender(faiss_index, ranking).related_many(ids, k=12, filters=filters)
    found = Recommender(qdrant_index, ranking).related_many(ids, k=12, filters=filters)
    for article_id in ids:
        _assert_same_ranking(found[article_id], expected[article_id])


@pytest.mark.parametrize("ranking", [Ranking(), SHALLOW], ids=["hybrid", "deep"])
def test_slots_agree_with_faiss_exact(
    indexes: tuple[ArticleIndex, ArticleIndex], ranking: Ranking
) -> None:
    faiss_index, qdrant_index = indexes
    ids = list(faiss_index.ids())
    expected = Recommender(faiss_index, ranking).slots_many(ids)
    found = Recommender(qdrant_index, ranking).slots_many(ids)
    for article_id in ids:
        for side in ("previous", "next"):
            want, got = getattr(expected[article_id], side), getattr(found[article_id], side)
            assert (got and got.id, got and round(got.score, 5)) == (
                want and want.id,
                want and round(want.score, 5),
            ), (article_id, side)


def test_similar_agrees_with_faiss_exact(indexes: tuple[ArticleIndex, ArticleIndex]) -> None:
    faiss_index, qdrant_index = indexes
    for title, body, filters in [
        ("football striker", "a goal in the cup final word3 word9", RelatedFilters()),
        ("flood rescue", "", RelatedFilters(since="2024-04-01")),
        ("election", "ballot vote", RelatedFilters(topic="sport")),
    ]:
        expected = Recommender(faiss_index).related_to_text(title, body, k=8, filters=filters)
        found = Recommender(qdrant_index).related_to_text(title, body, k=8, filters=filters)
        assert _answers(found) == _answers(expected)


def test_upserts_and_deletes_keep_the_backends_in_step(
    indexes: tuple[ArticleIndex, ArticleIndex],
) -> None:
    faiss_index, qdrant_index = indexes
    rng = random.Random(9)
    changes = [
        # A new text, a metadata-only change that moves an article in time, and a new one.
        make_article("a03", "politics 3", keyword_text(["disaster"], rng), published="2024-05-05"),
        dataclasses.replace(faiss_index.article("a06"), published="2024-06-20T08:00:00Z"),
        make_article("new", "sport new", keyword_text(["sport"], rng), published="2024-06-21"),
    ]
    deleted_row = qdrant_index.row_id("a11")
    for index in (faiss_index, qdrant_index):
        index.upsert(changes)
        assert index.delete(["a11", "a12", "gone"]) == ["gone"]
    assert len(qdrant_index.vectors) == len(faiss_index.vectors) == len(faiss_index)
    with pytest.raises(KeyError):
        qdrant_index.vectors.vectors_of(np.asarray([deleted_row]))
    ids = list(faiss_index.ids())
    for filters in (
        RelatedFilters(),
        RelatedFilters(since="2024-06-01"),
        RelatedFilters(topic="sport"),
    ):
        expected = Recommender(faiss_index, SHALLOW).related_many(ids, k=10, filters=filters)
        found = Recommender(qdrant_index, SHALLOW).related_many(ids, k=10, filters=filters)
        assert {key: _answers(hits) for key, hits in found.items()} == {
            key: _answers(hits) for key, hits in expected.items()
        }
        assert not {"a11", "a12"} & {hit.id for hits in found.values() for hit in hits}
    moved = Recommender(qdrant_index).related(
        "a00", k=5, filters=RelatedFilters(since="2024-06-20")
    )
    assert "a06" in {hit.id for hit in moved}  # moved from January to June


def test_retag_updates_the_topic_payload(
    indexes: tuple[ArticleIndex, ArticleIndex], embedder: HashingEmbedder
) -> None:
    faiss_index, qdrant_index = indexes
    # A taxonomy of one topic: every article is retagged "sport".
    only_sport = TAXONOMY.__class__(TAXONOMY.topics[:1], name="sport only")
    for index in (faiss_index, qdrant_index):
        index.retag(ZeroShotTagger.from_taxonomy(only_sport, embedder))
    filters = RelatedFilters(topic="sport")
    expected = Recommender(faiss_index).related("a01", k=30, filters=filters)
    found = Recommender(qdrant_index).related("a01", k=30, filters=filters)
    assert _answers(found) == _answers(expected)


# -- the payload conditions select exactly the catalog's rows -----------------------------------


def _moments(index: ArticleIndex) -> list[PublishedTime]:
    catalog = index.catalog
    moments = {
        PublishedTime(float(start), float(end))
        for start, end in zip(catalog.starts, catalog.ends, strict=True)
        if not math.isnan(start)
    }
    # Each one, and instants just either side of its bounds.
    nudged = {
        PublishedTime(value, value)
        for moment in moments
        for bound in (moment.start, moment.end)
        for value in (math.nextafter(bound, -math.inf), bound, math.nextafter(bound, math.inf))
    }
    return sorted(moments | nudged, key=lambda moment: (moment.start, moment.end))


def _selected(index: ArticleIndex, selection: RowSelection) -> set[int]:
    query = index.vectors.vectors_of(index.catalog.row_ids[:1])
    _, row_ids = index.vectors.search(query, len(index.vectors), selection)
    return {int(row_id) for row_id in row_ids[0] if row_id >= 0}


def test_payload_conditions_select_the_rows_of_the_bitmap(
    indexes: tuple[ArticleIndex, ArticleIndex],
) -> None:
    _, index = indexes
    catalog = index.catalog
    checked = 0
    for moment in _moments(index):
        cases = [
            (catalog.before(moment), earlier_than(moment)),
            (catalog.after(moment), later_than(moment)),
            (catalog.dated_between(moment.start, None), PayloadConditions(True, moment.start)),
            (
                catalog.dated_between(None, moment.start),
                PayloadConditions(True, None, moment.start),
            ),
        ]
        for mask, conditions in cases:
            expected = {int(row_id) for row_id in catalog.row_ids[mask]}
            assert _selected(index, catalog.selection(mask, conditions)) == expected, (
                moment,
                conditions,
            )
            checked += 1
    for label in LABELS:
        mask = catalog.with_topic(label) & catalog.dated_between(None, None)
        selection = catalog.selection(mask, PayloadConditions(True, topic=label))
        assert _selected(index, selection) == {int(row_id) for row_id in catalog.row_ids[mask]}
    assert checked > 100


def test_a_bare_bitmap_is_sent_as_ids(indexes: tuple[ArticleIndex, ArticleIndex]) -> None:
    faiss_index, qdrant_index = indexes
    allowed = qdrant_index.catalog.row_ids[::3]
    queries = qdrant_index.vectors.vectors_of(qdrant_index.catalog.row_ids[:5])
    want = faiss_index.vectors.search(queries, 7, bitmap_of(allowed))
    got = qdrant_index.vectors.search(queries, 7, bitmap_of(allowed))
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


# -- the store as the source of truth -----------------------------------------------------------


def test_local_mode_persists_and_a_crash_is_rebuilt_by_a_writer(
    open_pair: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = _corpus(30)
    index = open_pair("local", vector_backend="qdrant")
    index.upsert(corpus[:20])
    index.save()
    expected = _answers(Recommender(index).related("a01", k=10))
    index.close()

    reset = QdrantVectorIndex.reset
    monkeypatch.setattr(QdrantVectorIndex, "reset", lambda self: pytest.fail("rebuilt"))
    reader = open_pair("local", vector_backend="qdrant", writable=False)
    assert reader.vector_kind == "qdrant"
    assert _answers(Recommender(reader).related("a01", k=10)) == expected
    reader.close()
    monkeypatch.setattr(QdrantVectorIndex, "reset", reset)

    # A writer that stops before `save` leaves the manifest behind the store.
    writer = open_pair("local", vector_backend="qdrant")
    writer.upsert(corpus[20:])
    writer.delete(["a02"])
    writer.close()
    with pytest.raises(IndexMismatchError, match="a writer rebuilds it"):
        _ = open_pair("local", vector_backend="qdrant", writable=False).vectors
    rebuilt = open_pair("local", vector_backend="qdrant")
    faiss_index = open_pair("faiss", index_type="exact")
    faiss_index.upsert(corpus[:20])
    faiss_index.upsert(corpus[20:])
    faiss_index.delete(["a02"])
    ids = list(faiss_index.ids())
    assert {k: _answers(v) for k, v in Recommender(rebuilt).related_many(ids).items()} == {
        k: _answers(v) for k, v in Recommender(faiss_index).related_many(ids).items()
    }


def test_settings_select_the_backend(tmp_path: Path) -> None:
    settings = Settings(
        index_dir=tmp_path / "index",
        embedder="hashing",
        vector_backend="qdrant",
        qdrant_url=":memory:",
        tag_on_index=False,
    )
    with open_index(settings, writable=True) as index:
        index.upsert(_corpus(10))
        index.save()
        assert index.info().index_type == "qdrant"
        assert len(index.vectors) == len(index) == 12
    with pytest.raises(InvalidInputError, match="faiss, qdrant"):
        ArticleIndex.open(
            tmp_path / "x",
            HashingEmbedder(8),
            writable=True,
            options=IndexOptions(vector_backend="x"),
        )


def test_an_unreachable_server_is_an_input_error_naming_it() -> None:
    with pytest.raises(InvalidInputError, match=r"cannot reach Qdrant at http://127\.0\.0\.1:9"):
        QdrantVectorIndex.connect("http://127.0.0.1:9", "newsrec", 8)
