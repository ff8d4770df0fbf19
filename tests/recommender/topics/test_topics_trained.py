"""The trained head: fit on a keyword corpus, save as plain arrays, refuse other embedders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender.errors import IndexMismatchError, InvalidInputError
from recommender.topics import (
    InvalidTopicModelError,
    TopicModelMismatchError,
    TopicTagger,
    TrainedTagger,
    fit_trained_tagger,
    load_tagger,
)
from recommender.topics.model_files import MANIFEST_FILE
from tests.topics_corpus import keyword_rows

EMBEDDER = HashingEmbedder(256)


def _corpus(count: int, multi_every: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    rows = keyword_rows(count, multi_every=multi_every)
    vectors = EMBEDDER.encode([f"{row['title']}\n{row['body']}" for row in rows])
    return vectors, [row["topics"] for row in rows]


@pytest.fixture(scope="module")
def fitted() -> TrainedTagger:
    vectors, labels = _corpus(90, multi_every=5)
    return fit_trained_tagger(vectors, labels, embedder_name=EMBEDDER.name, cv_folds=3)


def test_fit_reports_cross_validated_scores(fitted: TrainedTagger) -> None:
    cv = fitted.cross_validation

    assert isinstance(fitted, TopicTagger)
    assert cv is not None and cv.folds == 3
    # Separate vocabularies: every held-out article's primary topic is one of its own.
    assert cv.accuracy == 1.0
    assert cv.macro_f1 > 0.9


def test_it_tags_unseen_keyword_articles(fitted: TrainedTagger) -> None:
    vectors, labels = _corpus(30, multi_every=0)
    held_out = vectors[::2]

    assignments = fitted.tag(held_out)

    assert [a.primary for a in assignments] == [labels[i][0] for i in range(0, 30, 2)]


def test_multi_label_rows_get_both_topics(fitted: TrainedTagger) -> None:
    (assignment,) = fitted.tag(
        EMBEDDER.encode(["football striker goal match cup election ballot parliament vote"])
    )

    assert set(assignment.labels) == {"sport", "politics"}


def test_labels_are_those_of_the_training_rows_only() -> None:
    vectors, labels = _corpus(60)
    keep = [i for i, row in enumerate(labels) if row[0] != "disaster"]

    tagger = fit_trained_tagger(
        vectors[keep], [labels[i] for i in keep], embedder_name=EMBEDDER.name, cv_folds=0
    )
    (assignment,) = tagger.tag(EMBEDDER.encode(["earthquake flood storm tsunami rescue"]))

    assert tagger.labels == ("politics", "sport")
    assert set(assignment.scores) == {"politics", "sport"}
    assert assignment.primary in {"politics", "sport"}


def test_save_writes_plain_arrays_and_json_and_loads_back_identically(
    tmp_path: Path, fitted: TrainedTagger
) -> None:
    fitted.save(tmp_path / "model")
    vectors, _ = _corpus(12)

    loaded = load_tagger(tmp_path / "model", EMBEDDER)

    names = sorted(path.name for path in (tmp_path / "model").iterdir())
    assert names == ["newsrec-topic-bias.npy", MANIFEST_FILE, "newsrec-topic-weights.npy"]
    for name in (names[0], names[2]):
        np.load(tmp_path / "model" / name, allow_pickle=False)  # no pickled objects inside
    manifest = json.loads((tmp_path / "model" / MANIFEST_FILE).read_text())
    assert manifest["labels"] == ["disaster", "politics", "sport"]
    assert (manifest["embedder"], manifest["dimension"]) == ("hashing-bow-256", 256)
    assert isinstance(loaded, TrainedTagger)
    assert np.array_equal(loaded.scores(vectors), fitted.scores(vectors))
    assert loaded.cross_validation == fitted.cross_validation


def test_loading_with_another_embedder_is_refused(tmp_path: Path, fitted: TrainedTagger) -> None:
    fitted.save(tmp_path / "model")

    with pytest.raises(TopicModelMismatchError, match="'hashing-bow-256' \\(256") as caught:
        TrainedTagger.load(tmp_path / "model", embedder_name="all-MiniLM-L6-v2", dimension=384)

    assert isinstance(caught.value, IndexMismatchError)


def test_a_tampered_array_is_caught_on_load(tmp_path: Path, fitted: TrainedTagger) -> None:
    fitted.save(tmp_path / "model")
    np.save(tmp_path / "model" / "newsrec-topic-bias.npy", np.zeros(3, dtype=np.float32))

    with pytest.raises(InvalidTopicModelError, match="does not match the model manifest"):
        load_tagger(tmp_path / "model", EMBEDDER)


def test_a_directory_without_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidTopicModelError, match="no topic model here"):
        load_tagger(tmp_path, EMBEDDER)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([["sport"], ["sport"]], "at least two distinct labels"),
        ([["sport", "politics"], ["sport"]], "'sport' is on every row"),
        ([["sport"], []], "needs at least one label"),
    ],
)
def test_untrainable_label_sets_are_refused(labels: list[list[str]], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        fit_trained_tagger(
            EMBEDDER.encode(["a", "b"]), labels, embedder_name=EMBEDDER.name, cv_folds=0
        )
