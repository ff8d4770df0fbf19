"""The adapted tagger's lexical head: fitted on the dense head's pseudo-labels over the
articles' hashed terms, stored with the model, read on every tagging path (tag, index,
retag, the API) so one article gets one answer, and absent from older model directories,
which keep working."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender import ArticleIndex, InvalidInputError, Settings, build_embedder
from recommender.batch.streamed import StreamedTagger
from recommender.index.lexical import term_vectors
from recommender.topics import (
    TrainedTagger,
    ZeroShotTagger,
    adapt_tagger,
    adapt_with_holdout,
    fit_trained_tagger,
    load_tagger,
)
from recommender.topics.lexical_head import fit_lexical_head
from recommender.topics.model_files import MANIFEST_FILE
from service.cli.main import main
from tests.service_support import app_client, hashing_settings
from tests.topics_corpus import TAXONOMY, keyword_rows, site_rows, write_jsonl, write_taxonomy


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def zero_shot(embedder: HashingEmbedder) -> ZeroShotTagger:
    return ZeroShotTagger.from_taxonomy(TAXONOMY, embedder)


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.delenv("NEWSREC_HOME", raising=False)
    monkeypatch.delenv("NEWSREC_TOPIC_MODEL", raising=False)


def _texts(rows: list[dict]) -> list[str]:
    return [f"{row['title']}\n{row['body']}" if row.get("body") else row["title"] for row in rows]


def test_the_lexical_head_corrects_the_rows_it_was_not_fitted_on() -> None:
    rows = keyword_rows(90)
    truth = np.array([TAXONOMY.labels.index(row["topics"][0]) for row in rows])
    # Pseudo-labels on four rows of five; the fifth rows are left out (the dense head was
    # unsure of them), and the head must still read their words right.
    fitted = np.array([i for i in range(len(rows)) if i % 5])
    head = fit_lexical_head(term_vectors(_texts(rows)), fitted, truth[fitted], 3)
    assert head is not None
    left_out = np.arange(0, len(rows), 5)
    probabilities = head.probabilities(term_vectors([_texts(rows)[i] for i in left_out]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == truth[left_out]).all()
    # Only terms seen in two rows or more are kept; their idf rewards the rarer ones.
    assert len(head.features) < 2**20 and (head.idf >= 1.0).all()


def test_combining_is_a_weighted_geometric_mean_of_the_two_distributions() -> None:
    rows = keyword_rows(30)
    truth = np.array([TAXONOMY.labels.index(row["topics"][0]) for row in rows])
    terms = term_vectors(_texts(rows))
    head = fit_lexical_head(terms, np.arange(len(rows)), truth, 3)
    assert head is not None
    dense = np.tile(np.array([[0.9, 0.3, 0.3]], dtype=np.float32), (len(rows), 1))
    lexical = head.probabilities(terms)
    expected = (dense / dense.sum(axis=1, keepdims=True)) ** 0.7 * lexical**0.3
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.combine(dense, terms), expected, rtol=1e-4, atol=1e-6)
    # The dense head leans to the first label everywhere; the words move the rest.
    assert (head.combine(dense, terms).argmax(axis=1) == truth).mean() > 0.9


def test_a_label_without_pseudo_labels_is_never_the_lexical_answer() -> None:
    rows = keyword_rows(30)
    truth = np.array([TAXONOMY.labels.index(row["topics"][0]) for row in rows])
    kept = np.flatnonzero(truth != 2)  # no row of the third label
    head = fit_lexical_head(term_vectors(_texts(rows)), kept, truth[kept], 3)
    assert head is not None
    probabilities = head.probabilities(term_vectors(_texts(rows)))
    assert probabilities[:, 2].max() < 1e-6
    assert fit_lexical_head(term_vectors(_texts(rows)), kept[:1], truth[kept[:1]], 3) is None


def test_adapting_with_terms_stores_a_head_that_tagging_reads(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger, tmp_path: Path
) -> None:
    archive = site_rows(120)
    texts = [row["title"] for row in archive]
    vectors, terms = embedder.encode(texts), term_vectors(texts)

    tagger = adapt_tagger(zero_shot, vectors, terms=terms).tagger

    assert tagger.reads_terms and tagger.lexical is not None
    scores = tagger.scores(vectors, terms)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)  # a geometric mean, renormalised
    assert not np.allclose(scores, tagger.dense_scores(vectors))
    # The terms count: the same vectors with another text's terms tag differently.
    swapped = term_vectors(texts[1:] + texts[:1])
    moved = tagger.scores(vectors, swapped).argmax(axis=1) != scores.argmax(axis=1)
    assert moved.any()
    with pytest.raises(InvalidInputError, match="reads each article's terms"):
        tagger.tag(vectors)

    tagger.save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / MANIFEST_FILE).read_text())
    assert {"lexical_features", "lexical_idf", "lexical_weights", "lexical_bias"} <= set(
        manifest["arrays"]
    )
    loaded = load_tagger(tmp_path / "model", embedder)
    assert isinstance(loaded, TrainedTagger) and loaded.reads_terms
    np.testing.assert_allclose(loaded.scores(vectors, terms), scores, rtol=1e-5)
    assert loaded.threshold == pytest.approx(tagger.threshold)


def test_the_held_out_guard_scores_the_combined_tagger(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    archive = site_rows(150)
    texts = [row["title"] for row in archive]
    checked = adapt_with_holdout(
        zero_shot,
        embedder.encode(texts),
        [row["topics"] for row in archive],
        terms=term_vectors(texts),
    )
    assert checked.adaptation.tagger.reads_terms
    assert checked.adapted_macro_f1 > checked.zero_shot_macro_f1


def test_a_model_without_a_lexical_head_still_loads_and_tags(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger, tmp_path: Path
) -> None:
    archive = site_rows(60)
    vectors = embedder.encode([row["title"] for row in archive])
    trained = fit_trained_tagger(
        vectors, [row["topics"] for row in archive], embedder_name=embedder.name, cv_folds=0
    )
    trained.save(tmp_path / "trained")
    adapt_tagger(zero_shot, vectors).tagger.save(tmp_path / "adapted")
    # A zero-shot model saved before prompt texts were kept: its manifest has none.
    zero_shot.save(tmp_path / "zero-shot")
    manifest_path = tmp_path / "zero-shot" / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    del manifest["prompt_texts"]
    manifest_path.write_text(json.dumps(manifest))

    for name in ("trained", "adapted", "zero-shot"):
        loaded = load_tagger(tmp_path / name, embedder)
        assert not loaded.reads_terms
        assert len(loaded.tag(vectors)) == len(archive)
    old_zero_shot = load_tagger(tmp_path / "zero-shot", embedder)
    assert isinstance(old_zero_shot, ZeroShotTagger) and old_zero_shot.prompt_texts is None
    # Adapting from it still works, without the prompts' words in the lexical head.
    terms = term_vectors([row["title"] for row in archive])
    assert adapt_tagger(old_zero_shot, vectors, terms=terms).tagger.reads_terms


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tag_index_and_retag_give_an_article_the_same_topics(
    hashing: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = site_rows(90)
    for number, row in enumerate(rows):  # a body, so the text is title and body on every path
        row["body"] = f"report number {number}"
    archive = write_jsonl(tmp_path / "archive.jsonl", rows)
    model = tmp_path / "model"
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")
    code, out, err = _run(
        capsys, "topics", "adapt", archive, "--out", model, "--taxonomy", taxonomy
    )
    assert code == 0, err
    assert "lexical head over" in out
    assert load_tagger(model, build_embedder(Settings())).reads_terms

    tagged = tmp_path / "tagged.jsonl"
    code, _, err = _run(capsys, "tag", archive, "-o", tagged, "--model", model)
    assert code == 0, err
    from_file = {row["id"]: row for row in map(json.loads, tagged.read_text().splitlines())}

    def stored_topics(index_dir: Path) -> dict[str, tuple]:
        with ArticleIndex.open(index_dir, build_embedder(Settings())) as index:
            found = {row["id"]: index.topics_of(row["id"]) for row in rows}
        return {
            key: (value.primary, [(label, round(score, 4)) for label, score, _ in value.topics])
            for key, value in found.items()
            if value is not None
        }

    expected = {
        key: (row["primary_topic"], [(t["label"], t["score"]) for t in row["topics"]])
        for key, row in from_file.items()
    }
    monkeypatch.setenv("NEWSREC_TOPIC_MODEL", str(model))
    index_dir = tmp_path / "index"
    code, _, err = _run(capsys, "index", archive, "--index-dir", index_dir)
    assert code == 0, err
    assert stored_topics(index_dir) == expected

    monkeypatch.delenv("NEWSREC_TOPIC_MODEL")
    code, _, err = _run(capsys, "retag", "--index-dir", index_dir)  # zero-shot: other topics
    assert code == 0, err
    assert stored_topics(index_dir) != expected
    code, _, err = _run(capsys, "retag", "--index-dir", index_dir, "--model", model)
    assert code == 0, err
    assert stored_topics(index_dir) == expected


@pytest.mark.slow
def test_the_service_reads_the_terms_of_a_posted_text(
    hashing: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(60))
    index_dir = tmp_path / "index"
    assert _run(capsys, "index", archive, "--index-dir", index_dir, "--adapt-topics")[0] == 0
    settings = hashing_settings(index_dir)
    adapted = load_tagger(index_dir / "topic-model", build_embedder(settings))
    assert adapted.reads_terms
    text = "innings wicket umpire"
    (expected,) = adapted.tag(build_embedder(settings).encode([text]), terms=term_vectors([text]))

    with app_client(settings) as client:
        body = client.post("/topics", json={"title": text}).json()
        stored = client.get("/articles/s0004/topics").json()

    assert body["primary"] == expected.primary
    assert body["topics"][0]["score"] == round(expected.topics[0].score, 4)
    assert stored["assigned_at_index_time"] and stored["primary"]


def test_the_streamed_tagger_scores_a_missing_vector_with_its_terms(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    archive = site_rows(60)
    texts = [row["title"] for row in archive]
    vectors, terms = embedder.encode(texts), term_vectors(texts)
    adapted = adapt_tagger(zero_shot, vectors, terms=terms).tagger
    streamed = StreamedTagger(adapted)
    assert streamed.reads_terms
    streamed.remember(vectors[:30], adapted.scores(vectors[:30], terms[:30]))
    # The pipeline's rows are served as remembered; the rest are scored here, with terms.
    np.testing.assert_allclose(streamed.scores(vectors, terms), adapted.scores(vectors, terms))
    assert streamed.scored_here == 30


def test_a_ray_actor_scores_its_batch_with_the_texts_terms(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger, tmp_path: Path
) -> None:
    from recommender.batch import ray_engine as ray_batch

    archive = site_rows(60)
    texts = [row["title"] for row in archive]
    vectors, terms = embedder.encode(texts), term_vectors(texts)
    adapted = adapt_tagger(zero_shot, vectors, terms=terms).tagger
    # The actor class as a job ships it (no Ray needed to call it in this process).
    actor = ray_batch._encoder_class(hashing_settings(tmp_path / "index"), adapted)()
    batch = {"hash": np.array([str(i) for i in range(10)]), "text": np.array(texts[:10])}

    result = actor(batch)

    np.testing.assert_allclose(result["scores"], adapted.scores(vectors[:10], terms[:10]))
