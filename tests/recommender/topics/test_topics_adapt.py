"""Adaptation to a site's archive without labels, and few-shot training from the taxonomy
prior, on the hashing embedder and keyword corpora whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender.errors import InvalidInputError
from recommender.topics import (
    TrainedTagger,
    ZeroShotTagger,
    adapt_tagger,
    adapt_with_holdout,
    compare_taggers,
    evaluate_assignments,
    fit_trained_tagger,
    taxonomy_prior,
)
from recommender.topics.adapt import reestimate_priors, sampled_rows
from recommender.topics.trained import matching_threshold
from tests.topics_corpus import SITE_VOCABULARY, TAXONOMY, VOCABULARY, site_rows


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def zero_shot(embedder: HashingEmbedder) -> ZeroShotTagger:
    return ZeroShotTagger.from_taxonomy(TAXONOMY, embedder)


def _vectors(embedder: HashingEmbedder, rows: list[dict]) -> np.ndarray:
    return embedder.encode([row["title"] for row in rows])


def test_em_recovers_skewed_topic_shares() -> None:
    # Topic 0 is 80% of the archive. Two kinds of row: u (likelihood 0.7 under topic 0,
    # 0.3 under topic 1) and v (0.3, 0.7), in the counts the 80/20 mix gives: 62 u, 38 v.
    # Their posteriors under uniform shares average 54.8% for topic 0; EM finds 80%.
    posteriors = np.array([[0.7, 0.3]] * 62 + [[0.3, 0.7]] * 38)
    adjusted, shares = reestimate_priors(posteriors)
    assert posteriors[:, 0].mean() == pytest.approx(0.548)
    assert shares[0] == pytest.approx(0.8, abs=0.005)
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    assert adjusted[0, 0] > 0.7  # a u row is surer of topic 0 under the learnt shares


def test_adapted_tagger_reads_the_sites_own_words(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    archive = site_rows(120)
    # Held out: rows in the site's words only (the first three are anchored, the rest not).
    held_out = site_rows(60, seed=12, anchored_every=10**6)
    gold = [row["topics"] for row in held_out]

    adaptation = adapt_tagger(zero_shot, _vectors(embedder, archive))

    before = evaluate_assignments(zero_shot.tag(_vectors(embedder, held_out)), gold)
    after = evaluate_assignments(adaptation.tagger.tag(_vectors(embedder, held_out)), gold)
    assert after.macro_f1 == 1.0 and before.macro_f1 < 0.8
    tagger = adaptation.tagger
    assert tagger.labels == TAXONOMY.labels  # the taxonomy's labels, in its order
    assert dict(tagger.iptc) == TAXONOMY.iptc_codes()
    assert adaptation.rows == 120 and 0 < adaptation.pseudo_labelled <= 120
    assert sum(adaptation.shares.values()) == pytest.approx(1.0)


def test_adapted_model_saves_and_loads_as_a_trained_model(
    tmp_path, embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    vectors = _vectors(embedder, site_rows(60))
    tagger = adapt_tagger(zero_shot, vectors).tagger
    tagger.save(tmp_path / "model")
    loaded = TrainedTagger.load(tmp_path / "model", embedder_name=embedder.name)
    assert np.allclose(loaded.scores(vectors), tagger.scores(vectors))
    assert loaded.training["method"].startswith("adapted")
    assert loaded.training["archive_rows"] == 60


def test_a_tiny_archive_is_refused(embedder: HashingEmbedder, zero_shot: ZeroShotTagger) -> None:
    with pytest.raises(InvalidInputError, match="too few to adapt"):
        adapt_tagger(zero_shot, _vectors(embedder, site_rows(5)))


def test_holdout_check_scores_both_taggers_on_the_same_rows(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    rows = site_rows(150)
    checked = adapt_with_holdout(zero_shot, _vectors(embedder, rows), [r["topics"] for r in rows])
    assert checked.held_out == 30
    assert checked.adapted_macro_f1 > checked.zero_shot_macro_f1
    assert checked.adapted_wins


def test_sampled_rows_bound_the_rows_read() -> None:
    chunks = [
        (np.arange(1000 * i, 1000 * (i + 1)), np.full((1000, 4), i, dtype=np.float32))
        for i in range(10)
    ]
    ids, everything = sampled_rows(iter(chunks), 10_000, cap=20_000)
    assert everything.shape == (10_000, 4)
    assert np.array_equal(ids, np.arange(10_000))
    ids, sample = sampled_rows(iter(chunks), 10_000, cap=2_000)
    assert 1_700 < len(sample) < 2_300
    assert set(np.unique(sample[:, 0])) == set(range(10))  # every chunk contributes
    assert np.array_equal(ids // 1000, sample[:, 0])  # each row id stays with its vector


def test_few_shot_prior_reads_what_the_labels_never_showed(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    # Two labelled rows per topic, in the site's words only; the test rows use the
    # taxonomy's words, which only the prior (the taxonomy's prompts) teaches.
    train_rows = [(label, " ".join(SITE_VOCABULARY[label][:4])) for label in VOCABULARY] * 2
    test_rows = [(label, " ".join(VOCABULARY[label][:5])) for label in VOCABULARY]
    train_vectors = embedder.encode([text for _, text in train_rows])
    test_vectors = embedder.encode([text for _, text in test_rows])
    gold = [[label] for label, _ in test_rows]
    common = {"embedder_name": embedder.name, "cv_folds": 0}

    plain = fit_trained_tagger(train_vectors, [[label] for label, _ in train_rows], **common)
    primed = fit_trained_tagger(
        train_vectors,
        [[label] for label, _ in train_rows],
        prior=taxonomy_prior(zero_shot, None),
        **common,
    )

    assert evaluate_assignments(primed.tag(test_vectors), gold).accuracy == 1.0
    assert evaluate_assignments(plain.tag(test_vectors), gold).accuracy < 1.0
    assert primed.training["prior_rows"] == len(zero_shot.prompt_owners)


def test_prior_names_prompts_in_the_files_labels(zero_shot: ZeroShotTagger) -> None:
    prior = taxonomy_prior(zero_shot, {"sport": ("Sports",), "politics": ("Politics",)})
    assert set(prior.labels) == {"Sports", "Politics"}  # disaster maps to nothing: dropped
    assert len(prior.labels) == len(prior.vectors) == 6


def test_comparison_lists_every_tagger_on_one_split(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    rows = site_rows(240)
    gold = [row["topics"] for row in rows]
    train, test = np.arange(0, 240, 2), np.arange(1, 240, 2)

    table = compare_taggers(zero_shot, _vectors(embedder, rows), gold, train, test)

    names = [row.tagger for row in table]
    assert names[:2] == ["zero-shot", "adapted (no labels)"]
    assert names[2:] == [
        "trained, 8 per label",
        "trained, 16 per label",
        "trained, 32 per label",
        "trained, 64 per label",
        "trained, all labelled rows",
    ]
    assert [row.labelled_rows for row in table] == [0, 0, 24, 48, 96, 120, 120]
    assert table[1].macro_f1 > table[0].macro_f1
    assert all(0.0 <= row.macro_f1 <= 1.0 for row in table)


def test_matching_threshold_lists_the_wanted_labels_per_row() -> None:
    scores = np.array([[0.9, 0.2, 0.1], [0.3, 0.25, 0.05]])
    assert matching_threshold(scores, 1.0) == 0.3  # two labels above: 0.9 and 0.3
    assert matching_threshold(scores, 1.5) == 0.25
    assert matching_threshold(scores, 0.0) > 0.9  # nothing listed as confident


def test_adapted_and_trained_thresholds_follow_the_label_counts(
    embedder: HashingEmbedder, zero_shot: ZeroShotTagger
) -> None:
    rows = site_rows(90)
    vectors = _vectors(embedder, rows)
    adapted = adapt_tagger(zero_shot, vectors).tagger
    zero_shot_count = (zero_shot.scores(vectors) >= zero_shot.threshold).sum(axis=1).mean()
    adapted_count = (adapted.scores(vectors) >= adapted.threshold).sum(axis=1).mean()
    assert adapted_count == pytest.approx(zero_shot_count, abs=0.02)

    labels = [row["topics"] + (["sport"] if i % 3 == 1 else []) for i, row in enumerate(rows)]
    trained = fit_trained_tagger(vectors, labels, embedder_name=embedder.name, cv_folds=0,
                                 threshold=None)  # fmt: skip
    listed = (trained.scores(vectors) >= trained.threshold).sum(axis=1).mean()
    assert listed == pytest.approx(np.mean([len(x) for x in labels]), abs=0.02)
