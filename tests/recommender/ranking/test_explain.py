"""Why an item is related: shared topics, the words behind the TF-IDF cosine, and when.

The shared terms are checked against an oracle: scikit-learn's TfidfVectorizer with the
lexical index's weighting (sublinear tf, smooth idf, English stop words, unit rows) over
the same texts, with real words instead of hashed ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender import Article, ArticleIndex, Recommender
from recommender.index.records import AssignedTopics
from recommender.ranking.explain import Explanation, _same_family, _span
from tests.conftest import make_article

CORPUS = [
    make_article(
        "haftar-1",
        "Haftar meets Russian envoy in Benghazi",
        "Khalifa Haftar met a Russian defence envoy in Benghazi to discuss counterterrorism "
        "cooperation. The talks covered training and air defence.",
        published="2025-08-12T10:00:00Z",
    ),
    make_article(
        "haftar-2",
        "Haftar flies to Moscow for counterterrorism talks",
        "Khalifa Haftar arrived in Moscow for counterterrorism talks with Russian defence "
        "officials, three weeks after the Benghazi visit.",
        published="2025-09-03T14:00:00Z",
    ),
    make_article(
        "haftar-0",
        "Russian envoy expected in Benghazi",
        "A Russian envoy is expected in Benghazi next month, officials in eastern Libya said, "
        "as Haftar seeks counterterrorism help.",
        published="2025-07-01",
    ),
    make_article(
        "haftar-undated",
        "Profile: Khalifa Haftar",
        "Khalifa Haftar has commanded forces in eastern Libya from Benghazi for a decade.",
    ),
    make_article(
        "flood-1",
        "River flood forces evacuations",
        "The river burst its banks and villages were evacuated as rescue teams arrived.",
        published="2025-08-13T09:00:00Z",
    ),
    make_article(
        "cup-1",
        "Cup final goes to penalties",
        "The cup final went to penalties after a goalless draw in the stadium.",
        published="2025-08-12T10:00:00Z",
    ),
]


@pytest.fixture
def recommender(open_test_index: Callable[..., ArticleIndex]) -> Recommender:
    index = open_test_index()
    index.upsert(CORPUS)
    return Recommender(index)


def _oracle_terms(query: Article, other: Article) -> list[str]:
    """Shared words by their share of the TF-IDF cosine, strongest first (real words)."""
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    matrix = vectorizer.fit_transform([article.text for article in CORPUS]).toarray()
    words = vectorizer.get_feature_names_out()
    ids = [article.id for article in CORPUS]
    contributions = matrix[ids.index(query.id)] * matrix[ids.index(other.id)]
    order = np.argsort(-contributions, kind="stable")
    return [str(words[i]) for i in order if contributions[i] > 0]


def test_shared_terms_are_the_strongest_contributors_to_the_cosine(
    recommender: Recommender,
) -> None:
    hits = recommender.related("haftar-1", 5, explain=True)
    by_id = {article.id: article for article in CORPUS}
    for hit in hits:
        assert hit.explanation is not None
        oracle = _oracle_terms(by_id["haftar-1"], by_id[hit.id])
        shown = [word.lower() for term in hit.explanation.terms for word in term.split()]
        # Every shown word is shared, and comes from the oracle's strongest few.
        assert set(shown) <= set(oracle[: len(shown) + 2]), (hit.id, shown, oracle[:8])
    moscow = next(hit for hit in hits if hit.id == "haftar-2")
    assert moscow.explanation is not None
    assert "Khalifa Haftar" in moscow.explanation.terms or "Haftar" in moscow.explanation.terms
    # "talks" and "defence" tie exactly (each once in one text, twice in the other, in
    # the same two articles); either may lead, and both beat the words all four share.
    assert moscow.explanation.terms[0] in ("talks", "defence")
    assert set(_oracle_terms(by_id["haftar-1"], by_id["haftar-2"])[:2]) == {"talks", "defence"}


def test_names_keep_their_spelling_and_adjacent_names_join(recommender: Recommender) -> None:
    (hit,) = [h for h in recommender.related("haftar-2", 5, explain=True) if h.id == "haftar-1"]
    assert hit.explanation is not None
    terms = hit.explanation.terms
    # "Khalifa" and "Haftar" are both strong and stand together in the text: one name.
    assert "Khalifa Haftar" in terms
    assert "Haftar" not in terms and "haftar" not in terms
    assert all(term != "russian" for term in terms)  # shown as the article spells it


def test_coverage_earlier_later_same_time_and_undated(recommender: Recommender) -> None:
    hits = {hit.id: hit for hit in recommender.related("haftar-1", 5, explain=True)}
    later, earlier = hits["haftar-2"].explanation, hits["haftar-0"].explanation
    assert later is not None and earlier is not None
    assert later.coverage == "later" and later.days_apart == pytest.approx(22.17, abs=0.01)
    assert "later coverage, 3 weeks after" in hits["haftar-2"].why  # type: ignore[operator]
    assert earlier.coverage == "earlier"
    assert "earlier coverage, 6 weeks before" in hits["haftar-0"].why  # type: ignore[operator]
    undated = hits["haftar-undated"].explanation
    assert undated is not None and undated.coverage == "undated"
    cup = recommender.related("cup-1", 5, explain=True)
    same = {hit.id: hit.explanation for hit in cup}["haftar-1"]
    assert same is not None and same.coverage == "same time"


def test_shared_topics_come_first(open_test_index: Callable[..., ArticleIndex]) -> None:
    index = open_test_index()
    index.upsert(CORPUS)
    index.store.set_topics(
        {
            index.row_id("haftar-1"): AssignedTopics((("conflict", 0.9, None),), "conflict"),
            index.row_id("haftar-2"): AssignedTopics(
                (("conflict", 0.8, None), ("politics", 0.5, None)), "conflict"
            ),
        }
    )
    hits = Recommender(index).related("haftar-1", 5, explain=True)
    reasons = {hit.id: hit.explanation for hit in hits}
    assert reasons["haftar-2"] == Explanation(
        ("conflict",),
        reasons["haftar-2"].terms,  # type: ignore[union-attr]
        "later",
        reasons["haftar-2"].days_apart,  # type: ignore[union-attr]
    )
    assert reasons["haftar-2"].text.startswith("Both about conflict; both mention ")  # type: ignore[union-attr]
    assert reasons["haftar-0"].topics == ()  # type: ignore[union-attr]


def test_explaining_changes_nothing_else(recommender: Recommender) -> None:
    plain = recommender.related("haftar-1", 5)
    explained = recommender.related("haftar-1", 5, explain=True)
    assert [h.id for h in plain] == [h.id for h in explained]
    assert [h.score for h in plain] == [h.score for h in explained]
    assert all(h.explanation is None and "why" not in h.to_dict() for h in plain)
    assert all(set(h.to_dict()) >= {"why", "reasons"} for h in explained)
    slots = recommender.slots("haftar-1", explain=True)
    plain_slots = recommender.slots("haftar-1")
    assert slots.previous is not None and slots.next is not None
    assert plain_slots.previous is not None and plain_slots.next is not None
    assert (slots.previous.id, slots.next.id) == (plain_slots.previous.id, plain_slots.next.id)
    assert plain_slots.previous.explanation is None
    assert slots.previous.explanation is not None and slots.previous.explanation.coverage in (
        "earlier",
        "undated",
    )
    assert slots.next.explanation is not None and slots.next.explanation.coverage == "later"


def test_a_new_text_is_explained_by_its_words_and_date(recommender: Recommender) -> None:
    hits = recommender.related_to_text(
        "Haftar in Moscow",
        "Khalifa Haftar discussed counterterrorism in Moscow.",
        3,
        published="2025-09-01",
        explain=True,
    )
    top = hits[0]
    assert top.explanation is not None and top.explanation.topics == ()
    assert "Moscow" in top.explanation.terms or "Khalifa Haftar" in top.explanation.terms


def test_unrelated_items_name_no_terms(recommender: Recommender) -> None:
    hits = {hit.id: hit for hit in recommender.related("flood-1", 5, explain=True)}
    assert hits["cup-1"].explanation is not None
    assert hits["cup-1"].explanation.terms == ()
    assert hits["cup-1"].why == "Earlier coverage, 23 hours before"


@pytest.mark.parametrize(
    ("days", "text"),
    [(0.2, "5 hours"), (1.0, "1 day"), (9, "9 days"), (16, "2 weeks"), (95, "3 months")],
)
def test_spans_read_naturally(days: float, text: str) -> None:
    assert _span(days) == text
    assert _span(800) == "2 years"


@pytest.mark.parametrize(
    ("word", "other", "same"),
    [
        ("Russia", "Russian", True),
        ("Libyan", "Libya", True),
        ("LNA", "LNAs", False),
        ("port", "Portugal", False),
        ("talks", "defence", False),
    ],
)
def test_a_word_family_is_named_once(word: str, other: str, same: bool) -> None:
    assert _same_family(word, other) is same
