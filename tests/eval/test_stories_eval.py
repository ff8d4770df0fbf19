"""The story figures of `eval related`: slot rates by side, and what the page options cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.quality.datasets import LabelledCorpus, story_qrels
from eval.quality.related_eval import run_related_eval
from eval.quality.slots import story_side_rates
from recommender import Article, Settings
from tests.eval_corpus import keyword_rows, write_jsonl


def _corpus(articles: list[Article]) -> LabelledCorpus:
    qrels = story_qrels(articles)
    return LabelledCorpus(Path("by-hand"), articles, list(qrels), qrels, len(qrels))


def test_story_side_rates_by_hand() -> None:
    day = "2024-05-0{}T09:00:00Z"
    articles = [
        Article(id="a1", title="a", body="a", published=day.format(1), story="a"),
        Article(id="a2", title="a", body="a", published=day.format(3), story="a"),
        Article(id="a3", title="a", body="a", published=day.format(5), story="a"),
        Article(id="b1", title="b", body="b", published=day.format(2), story="b"),
        Article(id="b2", title="b", body="b", published=day.format(4), story="b"),
    ]
    slots = {
        "a1": (None, "a2"),  # none earlier: empty, right; later: same story
        "a2": ("b1", "a3"),  # earlier a1 exists, slot holds b1: missed; later: same story
        "a3": ("a2", "b2"),  # earlier: same story; nothing later in a, filled: filler
        "b1": ("a1", "b2"),  # earlier: none in b, filled: filler; later: same story
        "b2": (None, None),  # earlier b1 exists, empty: missed; later: none, empty
    }
    found = story_side_rates(_corpus(articles), slots)
    # Sides with a story article: a1 next, a2 both, a3 previous, b1 next, b2 previous = 6,
    # of which a2, a3, a2's next, b1's next hold one... counted: a1>a2, a2>a3, a3<a2, b1>b2.
    assert found["slot_story"] == pytest.approx(4 / 6)
    # Sides without: a1 previous (empty), a3 next (b2), b1 previous (a1), b2 next (empty).
    assert found["slot_filler"] == pytest.approx(2 / 4)


@pytest.mark.slow
def test_eval_related_reports_the_story_column_and_the_page_options(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", keyword_rows())
    settings = Settings(embedder="hashing", index_dir=tmp_path / "unused")

    found = run_related_eval(corpus, k=5, systems=["tfidf", "default"], settings=settings)

    for system in ("tfidf", "default"):
        for name in ("slot_story", "slot_filler"):
            value = found["metrics"][system][name]
            assert value != value or 0.0 <= value <= 1.0  # NaN when no side qualifies
    options = found["page_options"]
    assert set(options) >= {"plain", "max_per_story=1", "diversity=0.3"}
    assert options["plain"]["ndcg_change"] == 0.0
    # One article per story cannot rank a query's story mates above the rest: it costs.
    assert options["max_per_story=1"]["ndcg@5"] < options["plain"]["ndcg@5"]
    assert options["max_per_story=1"]["ndcg_change"] < 0.0
