"""The related fallback's floor rules side by side (`slot_comparison --floors --rules`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.quality.slot_comparison import compare_on_corpus, main
from eval.quality.slot_floors import FLOOR_RULES
from recommender import Settings
from tests.eval_corpus import keyword_rows, write_jsonl

DEFAULT = next(rule.label for rule in FLOOR_RULES if "(default)" in rule.label)


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    directory = tmp_path_factory.mktemp("floors")
    corpus = write_jsonl(directory / "corpus.jsonl", keyword_rows())
    found = compare_on_corpus(
        corpus,
        index_dir=None,
        queries=None,
        settings=Settings(embedder="hashing", index_dir=directory / "unused"),
        floors=True,
        rules=["best overall", "mutual top 7", "story vouched"],
    )
    assert list(found) == ["clustered"]
    return found["clustered"]


def test_rules_picks_the_named_rules_beside_the_default(
    rates: dict[str, dict[str, float]],
) -> None:
    expected = [
        rule.label
        for rule in FLOOR_RULES
        if "(default)" in rule.label
        or any(part in rule.label for part in ("best overall", "mutual top 7", "story vouched"))
    ]
    assert list(rates) == expected
    assert {DEFAULT, "below floor: best overall", "below floor: first 3, story vouched"} <= set(
        rates
    )
    assert len(rates) < len(FLOOR_RULES)


def test_a_rescue_only_adds_slots_on_the_right_side(rates: dict[str, dict[str, float]]) -> None:
    default = rates[DEFAULT]
    for label, found in rates.items():
        assert found["wrong_side"] == 0, label
        assert found["queries"] == default["queries"], label
        if label == DEFAULT:
            continue
        # A rescue acts only where the default leaves a side empty.
        assert found["same_story"] >= default["same_story"], label
        assert found["filler"] >= default["filler"], label


def test_mutual_neighbours_among_unrelated_articles_are_filler(
    rates: dict[str, dict[str, float]],
) -> None:
    # Keyword stories share no word with each other: the default's floor keeps every side
    # without a story article empty, but among articles that share nothing, who is whose
    # seventh best is noise, so "mutual top 7" fills such sides anyway (as it does on
    # every corpus measured: docs/stories.md).
    assert rates[DEFAULT]["filler"] == 0.0
    assert rates[DEFAULT]["same_story"] == 1.0
    assert rates["below floor: mutual top 7"]["filler"] > 0.0


def test_main_prints_one_table_for_the_clustered_stories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", keyword_rows())
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.setenv("NEWSREC_INDEX_DIR", str(tmp_path / "unused"))
    assert main([str(corpus), "--floors", "--rules", "mutual top 1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("over the clustered stories")
    assert [line.split("  ")[0] for line in lines[2:]] == [DEFAULT, "below floor: mutual top 1"]
