"""The long-text study's pieces: the bonus held to a share of the pool's best score, and the
product's lexical side against scikit-learn's TF-IDF (the `tfidf` baseline)."""

from __future__ import annotations

import numpy as np

from eval.studies.fusion_corpus import Corpus
from eval.studies.fusion_long_text import by_story_rows, parity_rows, part_rows
from eval.studies.fusion_scoring import pool_neighbours, tfidf_rows
from eval.studies.fusion_study import query_cosines
from recommender.index.lexical import inverse_document_frequency, term_vectors, weighted_rows


def _scores(seed: int, n: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    full = rng.uniform(0.0, 0.6, size=(n, n))
    np.fill_diagonal(full, -np.inf)
    return full


def test_a_bonus_held_to_a_share_of_the_pools_best_score() -> None:
    full = _scores(3)
    queries = np.asarray([0, 4, 7])
    relative = pool_neighbours(full, queries, 3, 1.0, 6, best_share=0.5)
    capped = pool_neighbours(full, queries, 3, 0.2, 6, best_share=0.5)
    for row_number, query in enumerate(queries):
        row = full[query]
        best = np.sort(row[np.isfinite(row)])[-1]  # the pool's best is the row's best
        alone = queries[[row_number]]
        np.testing.assert_allclose(
            relative[row_number], pool_neighbours(full, alone, 3, 0.5 * best, 6)[0]
        )
        np.testing.assert_allclose(
            capped[row_number], pool_neighbours(full, alone, 3, min(0.2, 0.5 * best), 6)[0]
        )
    # Not the plain bonus at the same weight: the rows' best scores are under 0.6.
    assert not np.allclose(relative, pool_neighbours(full, queries, 3, 1.0, 6))


def test_a_pool_whose_best_score_is_negative_gets_no_bonus_rather_than_a_penalty() -> None:
    full = -_scores(5)  # every pair scores below 0 (the self score is set back to -inf)
    np.fill_diagonal(full, -np.inf)
    queries = np.asarray([0, 4])
    held = pool_neighbours(full, queries, 3, 1.0, 6, best_share=0.5)
    np.testing.assert_array_equal(held, full[queries])
    # The plain bonus does move them: the equality above is not for want of neighbours.
    assert not np.allclose(pool_neighbours(full, queries, 3, 0.2, 6), full[queries])


TEXTS = [
    "Floods swept the river valley; rescuers reached the flooded villages by boat.",
    "Rescuers in boats searched the valley villages as the river flood receded.",
    "The central bank raised interest rates to slow inflation in the economy.",
    "Inflation fell after the bank's interest rate rise, economists said.",
    "A chess prodigy won the national championship in a tie-break.",
]
# One-off articles, so that a list of 10 has more than the stories to choose from.
ONE_OFFS = [
    "A comet will be visible to the naked eye next week, astronomers say.",
    "The museum reopened its ancient pottery gallery after restoration.",
    "Farmers expect a record wheat harvest after a mild spring.",
    "A new metro line opened downtown, cutting commutes by half.",
    "The orchestra announced a summer tour of coastal towns.",
    "Volunteers planted a thousand oak saplings in the park.",
    "A startup unveiled a solar-powered delivery drone.",
    "The marathon drew runners from forty countries this year.",
]


def test_the_products_hashed_tfidf_is_scikit_learns() -> None:
    # Same tokens, stop words, sublinear tf, smooth idf and unit rows: on a vocabulary
    # this small no two terms share a hash, so every cosine is the baseline's.
    frequencies = term_vectors(TEXTS)
    document_frequency = np.bincount(frequencies.indices, minlength=frequencies.shape[1])
    hashed = weighted_rows(frequencies, inverse_document_frequency(document_frequency, 5))
    everything = np.arange(len(TEXTS))
    np.testing.assert_allclose(
        query_cosines(hashed, everything), query_cosines(tfidf_rows(TEXTS), everything), atol=1e-6
    )


def _corpus() -> Corpus:
    texts = TEXTS + ONE_OFFS
    stories = ["flood", "flood", "bank", "bank"] + [None] * (len(texts) - 4)
    rows: list[dict[str, object]] = [
        {"id": str(i), "title": text.split(" ")[1], "body": text, "story": story}
        for i, (text, story) in enumerate(zip(texts, stories, strict=True))
    ]
    # Vectors that agree with the stories: the dense side cannot spoil a perfect ranking.
    vectors = np.eye(len(texts), dtype=np.float32)[[0, 0, 1, 1, *range(4, len(texts))]]
    return Corpus("tiny", rows, vectors, {0: {1}, 1: {0}, 2: {3}, 3: {2}})


def test_the_study_reports_parity() -> None:
    parity = "\n".join(parity_rows(_corpus()))
    assert "scikit-learn 1.0000, hashed 1.0000" in parity
    assert "relevant 1.0000, the default's exhaustive top 10" in parity


def _neighbour_corpus(outlier_story: str = "story-s") -> Corpus:
    """Two stories where only the shared-neighbour bonus ranks a story's outlier above a
    confuser. Each article's one word is its own, so the lexical side is 0 between any two
    and the dense vectors decide. Story "story-s": six articles on one direction and an
    outlier (cosine 0.6 with them) whose seven nearest are those six and the confuser; the
    confuser (0.65 with the six, 0.76 with its own story "story-c") has its seven nearest in
    story "story-c"."""
    story_s, outlier = np.array([1.0, 0.0, 0.0]), np.array([0.6, 0.0, 0.8])
    story_c, confuser = np.array([0.0, 1.0, 0.0]), np.array([0.65, 0.76, 0.0])
    vectors = np.vstack([story_s] * 6 + [outlier, confuser] + [story_c] * 7)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    stories = ["story-s"] * 6 + [outlier_story] + ["story-c"] * 8
    rows: list[dict[str, object]] = [
        {"id": str(i), "title": f"article{i}", "body": "", "story": story}
        for i, story in enumerate(stories)
    ]
    members = {name: {i for i, story in enumerate(stories) if story == name} for name in stories}
    relevant = {i: members[story] - {i} for i, story in enumerate(stories)}
    return Corpus("two stories", rows, vectors, relevant)


def _mean_of(parts: list[str], label: str) -> float:
    [line] = [line for line in parts if line.lstrip().startswith(label)]
    return float(line.split(label)[1].split()[0])


def test_the_study_reports_the_default_against_its_parts() -> None:
    parts = part_rows(_neighbour_corpus())
    # Without the bonus the confuser ranks 6th in the lists of the six articles on story
    # "story-s"'s direction, and their last relevant one (the outlier) 7th. The bonus lifts
    # the outlier (its neighbours are theirs, and they are its) and not the confuser (its
    # neighbours are story "story-c"): all 15 lists are then perfect.
    discounts = 1 / np.log2(np.arange(2, 9))
    outlier_7th = (discounts[:5].sum() + discounts[6]) / discounts[:6].sum()
    assert _mean_of(parts, "default (blend + shared neighbours)") == 1.0
    assert _mean_of(parts, "blend without the bonus") == round((9 + 6 * outlier_7th) / 15, 4)
    [without] = [line for line in parts if "blend without the bonus" in line]
    assert "wins/losses 0/6" in without


def test_the_study_splits_the_defaults_error_by_story() -> None:
    # With the outlier labelled "story-c", its own list (story "story-s" first) and the
    # lists of "story-c" that miss it are the default's whole error: "story-c" comes first.
    header, _, first, second, group = by_story_rows(_neighbour_corpus("story-c"), "story")
    default, tfidf = (float(header.split(f"{name} ")[1][:6]) for name in ("default", "TF-IDF"))
    assert first.split()[:2] == ["story-c", "9"] and float(first.split()[2]) < 1.0
    assert first.endswith("100.0%")
    assert second.split()[:3] == ["story-s", "6", "1.000"] and second.endswith(" 0.0%")
    # The two stories together are the whole corpus: its means, all of its error.
    assert group.startswith("  the 2 stories with 'story' in their name")
    assert group.split()[-4:] == ["15", f"{default:.3f}", f"{tfidf:.3f}", "100.0%"]
    unmatched = by_story_rows(_neighbour_corpus("story-c"), "nowhere")[-1]
    assert unmatched == "  no story has 'nowhere' in its name"
