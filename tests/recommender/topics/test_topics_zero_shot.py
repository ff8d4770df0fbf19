"""The zero-shot tagger on the hashing embedder: scores checked against a numpy oracle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEmbedder, ProgressCallback
from recommender.errors import IndexMismatchError, InvalidInputError
from recommender.topics import (
    TopicModelMismatchError,
    TopicTagger,
    ZeroShotTagger,
    default_taxonomy,
    load_tagger,
)
from recommender.topics.zero_shot import CENTRE, SCALE
from tests.topics_corpus import TAXONOMY


class CountingEmbedder(HashingEmbedder):
    """The real hashing embedder, counting the texts it encodes."""

    def __init__(self, dimension: int = 256) -> None:
        super().__init__(dimension)
        self.texts: list[str] = []

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        self.texts.extend(texts)
        return super().encode(texts, progress=progress)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder(256)


@pytest.fixture
def tagger(embedder: CountingEmbedder) -> ZeroShotTagger:
    return ZeroShotTagger.from_taxonomy(TAXONOMY, embedder)


def test_it_meets_the_tagger_protocol(tagger: ZeroShotTagger) -> None:
    assert isinstance(tagger, TopicTagger)
    assert tagger.labels == ("sport", "politics", "disaster")
    assert tagger.embedder_name == "hashing-bow-256" and tagger.dimension == 256


def test_keyword_articles_get_their_topic_as_primary(
    tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    vectors = embedder.encode(
        [
            "the striker scored a late goal and the referee gave a penalty",
            "the minister called an election after parliament lost the vote",
            "rescue teams search the rubble after the earthquake and tsunami",
        ]
    )

    assignments = tagger.tag(vectors)

    assert [assignment.primary for assignment in assignments] == ["sport", "politics", "disaster"]


def test_scores_follow_the_documented_formula(
    tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    prompts = [list(topic.prompts) for topic in TAXONOMY]
    prompt_vectors = [embedder.encode(group) for group in prompts]
    mean_prompt = np.concatenate(prompt_vectors).mean(axis=0)
    article = embedder.encode(["storm and flood hit the stadium during the cup match"])[0]

    def unit(vector: np.ndarray) -> np.ndarray:
        return vector / np.linalg.norm(vector)

    x = unit(article - mean_prompt)
    expected = []
    for group in prompt_vectors:
        centroid = float(x @ unit(group.mean(axis=0) - mean_prompt))
        per_prompt = sorted((float(x @ unit(p - mean_prompt)) for p in group), reverse=True)
        similarity = 0.5 * centroid + 0.5 * float(np.mean(per_prompt[:3]))
        expected.append(1.0 / (1.0 + np.exp(-(similarity - CENTRE) / SCALE)))

    assert np.allclose(tagger.scores(article[None, :])[0], expected, atol=1e-5)


def test_topics_are_those_at_or_above_threshold_best_first(
    tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    vectors = embedder.encode(
        ["flood and storm rescue as the football match and the league cup are called off"]
    )
    scores = tagger.scores(vectors)[0]
    middle = float(np.sort(scores)[1])

    (assignment,) = tagger.tag(vectors, threshold=middle)

    assert [t.score for t in assignment.topics] == sorted(
        (float(s) for s in scores if s >= middle), reverse=True
    )
    assert len(assignment.topics) == 2
    assert assignment.topics[0].label == assignment.primary
    assert assignment.topics[0].iptc is not None
    assert set(assignment.scores) == set(tagger.labels)
    assert all(0.0 <= value <= 1.0 for value in assignment.scores.values())


def test_nothing_above_the_threshold_lists_the_primary_as_not_confident(
    tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    (assignment,) = tagger.tag(embedder.encode(["referee and penalty"]), threshold=1.0)

    assert assignment.primary == "sport"
    assert [t.label for t in assignment.topics] == ["sport"]
    assert not assignment.confident and assignment.labels == ()  # no filter matches it
    fields = assignment.to_fields()
    assert fields["primary_topic"] == "sport"
    (row,) = fields["topics"]
    assert row["label"] == "sport" and row["confident"] is False
    assert row["iptc"] == "medtop:15000000"
    assert row["score"] == round(assignment.scores["sport"], 4) and row["score"] < 1.0


def test_primary_is_always_the_first_topic_and_the_best_score(
    tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    texts = ["referee and penalty", "vote ballot", "", "goal vote", "zzz qqq"]
    for threshold in (0.0, 0.3, 0.5, 0.9, 1.0):
        for assignment in tagger.tag(embedder.encode(texts), threshold=threshold):
            best = max(assignment.scores.values())
            assert assignment.topics[0].label == assignment.primary
            assert assignment.scores[assignment.primary] == best
            assert all(t.iptc is not None for t in assignment.topics)
            confident = [t.confident for t in assignment.topics]
            assert all(confident) or confident == [False]
            assert assignment.confident == (best >= threshold)


def test_tagging_never_encodes_text(tagger: ZeroShotTagger, embedder: CountingEmbedder) -> None:
    vectors = embedder.encode(["goal", "vote"])
    before = len(embedder.texts)

    tagger.tag(vectors)
    tagger.scores(vectors)

    assert len(embedder.texts) == before


def test_save_and_load_give_identical_scores_without_encoding(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    vectors = embedder.encode(["goal and vote", "storm"])
    tagger.save(tmp_path / "zs")
    before = len(embedder.texts)

    loaded = load_tagger(tmp_path / "zs", embedder)

    assert isinstance(loaded, ZeroShotTagger)
    assert np.array_equal(loaded.scores(vectors), tagger.scores(vectors))
    assert loaded.threshold == tagger.threshold and len(embedder.texts) == before


def test_loading_with_another_embedder_is_refused(tmp_path: Path, tagger: ZeroShotTagger) -> None:
    tagger.save(tmp_path / "zs")

    with pytest.raises(TopicModelMismatchError, match="hashing-bow-256") as caught:
        load_tagger(tmp_path / "zs", HashingEmbedder(128))

    assert isinstance(caught.value, IndexMismatchError)


def test_vectors_of_the_wrong_shape_are_a_clear_error(tagger: ZeroShotTagger) -> None:
    with pytest.raises(InvalidInputError, match=r"shape \(n, 256\)"):
        tagger.scores(np.zeros((2, 128), dtype=np.float32))


def test_the_default_taxonomy_builds_a_tagger(embedder: CountingEmbedder) -> None:
    tagger = ZeroShotTagger.from_taxonomy(default_taxonomy(), embedder)
    (assignment,) = tagger.tag(embedder.encode(["Voters go to the polls in the election"]))

    assert assignment.primary == "politics"
    assert len(assignment.scores) == 12
