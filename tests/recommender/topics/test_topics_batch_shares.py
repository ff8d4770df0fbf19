"""The file's own topic shares re-weighting zero-shot in `tag_file` (batch_shares.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender.errors import InvalidInputError
from recommender.settings import Settings
from recommender.topics import ZeroShotTagger, fit_trained_tagger, tag_file
from recommender.topics.batch_shares import (
    SHARE_ROWS,
    BatchShares,
    ShareAdjustedTagger,
    estimate_shares,
    shares_file,
)
from tests.topics_corpus import TAXONOMY, VOCABULARY, keyword_rows, write_jsonl


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(128)


@pytest.fixture
def tagger(embedder: HashingEmbedder) -> ZeroShotTagger:
    return ZeroShotTagger.from_taxonomy(TAXONOMY, embedder)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _two_topic_rows(count: int = 120, *, seed: int = 3) -> list[dict[str, Any]]:
    """Sport and politics only. Every third politics row is about a vote after a storm:
    as many disaster words as political ones, the kind of row a neighbour topic takes."""
    rng = random.Random(seed)
    rows = []
    for number in range(count):
        if number % 2 == 0:
            words = [rng.choice(VOCABULARY["sport"]) for _ in range(10)]
        elif number % 3 == 0:
            words = [rng.choice(VOCABULARY["politics"]) for _ in range(4)]
            words += [rng.choice(VOCABULARY["disaster"]) for _ in range(4)]
        else:
            words = [rng.choice(VOCABULARY["politics"]) for _ in range(10)]
        rng.shuffle(words)
        rows.append({"id": f"t{number:04d}", "title": " ".join(words)})
    return rows


def test_estimated_shares_follow_the_posteriors_and_the_pull_towards_uniform() -> None:
    posteriors = np.array([[1.0, 0.0, 0.0]] * 30 + [[0.0, 1.0, 0.0]] * 10)

    free = estimate_shares(posteriors, prior_rows=0.0)
    pulled = estimate_shares(posteriors, prior_rows=60.0)

    assert free == pytest.approx([0.75, 0.25, 0.0], abs=1e-9)
    # 60 pseudo-rows, 20 per topic: (30 + 20) / 100, (10 + 20) / 100, 20 / 100.
    assert pulled == pytest.approx([0.5, 0.3, 0.2], abs=1e-9)
    assert pulled.sum() == pytest.approx(1.0)


def test_a_two_topic_file_raises_their_shares_and_leaves_the_neighbour_fewer_rows(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _two_topic_rows())

    plain = tag_file(source, tmp_path / "plain.jsonl", tagger, embedder)
    report = tag_file(source, tmp_path / "out.jsonl", tagger, embedder, share_rows=256)

    assert plain.topic_shares is None and report.topic_shares is not None
    shares = report.topic_shares.by_label()
    assert shares["sport"] > 1 / 3 and shares["politics"] > 1 / 3 and shares["disaster"] < 0.25
    assert report.topic_shares.rows == 120  # a file shorter than share_rows: all of it
    disaster_before = sum(r["primary_topic"] == "disaster" for r in _read(tmp_path / "plain.jsonl"))
    disaster_after = sum(r["primary_topic"] == "disaster" for r in _read(tmp_path / "out.jsonl"))
    assert disaster_before >= 5 and disaster_after < disaster_before
    stored = BatchShares.load(shares_file(tmp_path / "out.jsonl"), tagger.labels)
    assert stored == report.topic_shares


def _whole_run_and_one_stopped_after_32_rows(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> tuple[list[dict[str, object]], Path, Path, Path]:
    """(rows, their file, an uninterrupted run's output, a run's output that crashed after
    writing 32 rows: left as OUT.partial). The first rows are sport and politics, the rest
    disaster: shares re-estimated on the rows left after a crash would differ, and so would
    the rows."""
    rows = _two_topic_rows(40) + keyword_rows(30)[2::3]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    whole = tmp_path / "whole.jsonl"
    tag_file(source, whole, tagger, embedder, share_rows=24, batch_size=8)
    resumed = tmp_path / "resumed.jsonl"
    head = write_jsonl(tmp_path / "head.jsonl", rows[:32])
    tag_file(head, resumed, tagger, embedder, share_rows=24, batch_size=8)
    resumed.rename(resumed.with_name(resumed.name + ".partial"))
    return rows, source, whole, resumed


def test_a_resumed_run_reuses_the_stored_shares_and_writes_identical_rows(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    rows, source, whole, resumed = _whole_run_and_one_stopped_after_32_rows(
        tmp_path, tagger, embedder
    )
    # ... and crashed in the middle of the 33rd.
    with resumed.with_name(resumed.name + ".partial").open("a", encoding="utf-8") as stream:
        stream.write('{"id": "t0032", "title": "ele')

    report = tag_file(source, resumed, tagger, embedder, share_rows=24, batch_size=8)

    assert report.resumed == 32 and report.written == len(rows) - 32
    assert _read(resumed) == _read(whole)
    assert report.topic_shares == BatchShares.load(shares_file(whole), tagger.labels)


def test_a_run_resumed_with_other_share_rows_keeps_the_stored_shares(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    _, source, whole, resumed = _whole_run_and_one_stopped_after_32_rows(tmp_path, tagger, embedder)

    # NEWSREC_TOPIC_SHARE_ROWS changed between the runs: the rows written so far were
    # re-weighted by the stored shares, and so are the rest.
    report = tag_file(source, resumed, tagger, embedder, share_rows=5, batch_size=8)

    assert report.topic_shares is not None and report.topic_shares.rows == 24
    assert _read(resumed) == _read(whole)


def test_a_run_begun_with_shares_is_not_resumed_without_them(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    _, source, _, resumed = _whole_run_and_one_stopped_after_32_rows(tmp_path, tagger, embedder)
    partial = resumed.with_name(resumed.name + ".partial")
    before = partial.read_bytes()

    with pytest.raises(InvalidInputError, match="begun re-weighted by its file's topic shares"):
        tag_file(source, resumed, tagger, embedder, share_rows=0, batch_size=8)

    assert partial.read_bytes() == before and not resumed.exists()


def test_the_shares_do_not_depend_on_the_batch_size(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _two_topic_rows(60))

    small = tag_file(
        source, tmp_path / "small.jsonl", tagger, embedder, share_rows=20, batch_size=3
    )
    large = tag_file(source, tmp_path / "large.jsonl", tagger, embedder, share_rows=20)

    assert small.topic_shares == large.topic_shares and small.topic_shares is not None
    assert small.topic_shares.rows == 20
    assert _read(tmp_path / "small.jsonl") == _read(tmp_path / "large.jsonl")


def test_a_three_row_file_is_tagged_nearly_as_zero_shot_tags_it(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    rows = [row for row in keyword_rows(9) if row["topics"] == ["sport"]]
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    tag_file(source, tmp_path / "plain.jsonl", tagger, embedder, threshold=0.0)
    report = tag_file(
        source, tmp_path / "out.jsonl", tagger, embedder, threshold=0.0, share_rows=256
    )

    assert report.topic_shares is not None and report.topic_shares.rows == 3
    assert max(report.topic_shares.shares) < 0.37  # 3 rows barely move the shares
    for before, after in zip(
        _read(tmp_path / "plain.jsonl"), _read(tmp_path / "out.jsonl"), strict=True
    ):
        assert after["primary_topic"] == before["primary_topic"]
        scores_before = {t["label"]: t["score"] for t in before["topics"]}
        for topic in after["topics"]:
            assert topic["score"] == pytest.approx(scores_before[topic["label"]], abs=0.02)


def test_off_and_for_a_fitted_model_the_rows_are_plain(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    rows = keyword_rows(30)
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    vectors = embedder.encode([f"{row['title']}\n{row['body']}" for row in rows])
    model = fit_trained_tagger(
        vectors, [row["topics"] for row in rows], embedder_name=embedder.name, cv_folds=0
    )

    tag_file(source, tmp_path / "plain.jsonl", tagger, embedder)
    off = tag_file(source, tmp_path / "off.jsonl", tagger, embedder, share_rows=0)
    fitted = tag_file(source, tmp_path / "fitted.jsonl", model, embedder, share_rows=256)

    assert off.topic_shares is None and fitted.topic_shares is None
    assert _read(tmp_path / "off.jsonl") == _read(tmp_path / "plain.jsonl")
    assert not shares_file(tmp_path / "off.jsonl").exists()
    assert not shares_file(tmp_path / "fitted.jsonl").exists()


def test_stored_shares_of_another_taxonomy_are_refused_on_resume(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(6))
    output = tmp_path / "out.jsonl"
    tag_file(source, output, tagger, embedder, share_rows=256)
    BatchShares(("a", "b"), (0.5, 0.5), 10).save(shares_file(output))

    with pytest.raises(InvalidInputError, match="shares of other topics"):
        tag_file(source, output, tagger, embedder, share_rows=256)


@pytest.mark.parametrize(
    "text",
    [
        '{"labels":',
        "[1, 2]",
        '{"labels": ["a", "b"], "shares": [0.5, NaN], "rows": 2}',
        # Numbers JSON allows and Python cannot hold as float or int (OverflowError).
        '{"labels": ["a", "b"], "shares": [0.5, 0.5], "rows": 1e400}',
        '{"labels": ["a", "b"], "shares": [0.5, 1' + "0" * 400 + '], "rows": 2}',
    ],
)
def test_a_corrupt_shares_file_is_refused_with_a_readable_message(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "out.jsonl.topic-shares.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InvalidInputError, match="not a topic shares file"):
        BatchShares.load(path, ("a", "b"))


def test_shares_beside_no_output_are_estimated_again(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _two_topic_rows(30))
    output = tmp_path / "out.jsonl"
    # Left behind by an output since deleted, of another file.
    BatchShares(tagger.labels, (0.1, 0.1, 0.8), 10).save(shares_file(output))

    report = tag_file(source, output, tagger, embedder, share_rows=256)

    assert report.topic_shares is not None and report.topic_shares.rows == 30
    assert BatchShares.load(shares_file(output), tagger.labels) == report.topic_shares


def test_the_adjusted_tagger_multiplies_each_topics_odds_by_its_share_ratio(
    tagger: ZeroShotTagger, embedder: HashingEmbedder
) -> None:
    vectors = embedder.encode([" ".join(VOCABULARY["politics"][:4] + VOCABULARY["disaster"][:4])])
    shares = BatchShares(tagger.labels, (0.5, 0.25, 0.25), 40)

    adjusted = ShareAdjustedTagger(tagger, shares).scores(vectors)[0]
    plain = tagger.scores(vectors)[0]

    odds = plain / (1 - plain)
    assert adjusted / (1 - adjusted) == pytest.approx(odds * np.array([1.5, 0.75, 0.75]), rel=1e-4)


def test_the_setting_defaults_to_the_measured_share_rows() -> None:
    assert Settings.model_fields["topic_share_rows"].default == SHARE_ROWS
