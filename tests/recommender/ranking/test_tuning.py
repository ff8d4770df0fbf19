"""`newsrec tune`: weights learned from a site's labels, kept only when they win held out."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from recommender import InvalidInputError, Settings, build_recommender, open_index
from recommender.ranking.profile import (
    RankingProfile,
    load_profile,
    profile_path,
    save_profile,
)
from recommender.ranking.scoring import Ranking
from recommender.ranking.tuning import _blend, read_labels, tune
from recommender.system import build_ranking
from tests.service.cli.test_cli import Cli, cli  # noqa: F401  (the fixture)

VOCABULARY = (
    "harbour",
    "strike",
    "cranes",
    "dockworkers",
    "union",
    "wages",
    "port",
    "ships",
    "container",
    "talks",
    "pay",
    "vote",
    "council",
    "minister",
    "budget",
    "court",
    "ruling",
    "appeal",
    "flood",
    "river",
    "dam",
    "rain",
)


def _rows(*, stories_follow_time: bool, seed: int = 7) -> list[dict[str, object]]:
    """16 stories of 4 articles over the same shared words. With `stories_follow_time`, a
    story's articles are published within days of each other and stories months apart (the
    date tells the stories apart); else the labels are noise: dates and story names are
    drawn at random, so no weighting can find a story better than another."""
    generator = random.Random(seed)
    rows = []
    for story in range(16):
        for member in range(4):
            words = generator.sample(VOCABULARY, 8)
            month = story + 1 if stories_follow_time else generator.randint(1, 16)
            year, month = 2020 + (month - 1) // 12, (month - 1) % 12 + 1
            rows.append(
                {
                    "id": f"s{story:02d}-{member}",
                    "title": " ".join(words[:4]),
                    "body": " ".join(words[4:]),
                    "published": f"{year}-{month:02d}-{member + 1:02d}",
                    "story": f"story-{story if stories_follow_time else generator.randint(0, 15)}",
                }
            )
    return rows


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.slow
def test_tune_learns_the_time_boost_a_site_needs_and_the_ranking_uses_it(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", _rows(stories_follow_time=True))
    assert cli("index", str(corpus)).code == 0
    result = cli("tune", str(corpus))
    assert result.code == 0, result.err
    profile = load_profile(cli.index_dir)
    assert profile is not None and profile.weights["time_boost"] > 0.0
    assert profile.held_out["ndcg@10_tuned"] > profile.held_out["ndcg@10_default"]
    assert "ranking profile written" in result.out
    # The composition root (CLI, service, eval) now ranks with it...
    ranking = build_ranking(Settings(index_dir=cli.index_dir), cli.index_dir)
    assert ranking.time_boost == profile.weights["time_boost"]
    # ...and a weight set explicitly still wins over the profile.
    explicit = Settings(index_dir=cli.index_dir, time_boost=0.0)
    assert build_ranking(explicit, cli.index_dir).time_boost == 0.0
    # The stored lists were ranked again under the profile: related reads them back.
    with open_index(Settings(index_dir=cli.index_dir)) as index:
        recommender = build_recommender(Settings(index_dir=cli.index_dir), index)
        assert recommender.ranking.time_boost == profile.weights["time_boost"]
        assert recommender.stored_related("s03-0", k=3) is not None
    assert cli("tune", "--reset").code == 0
    assert load_profile(cli.index_dir) is None


@pytest.mark.slow
def test_tune_refuses_weights_that_do_not_win_held_out(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", _rows(stories_follow_time=False))
    assert cli("index", str(corpus)).code == 0
    result = cli("tune", str(corpus))
    assert result.code == 2
    assert "no profile written" in result.err_lines[-1]
    assert len(result.err_lines) == 1
    assert not profile_path(cli.index_dir).exists()


def test_tune_reports_bad_label_files_in_one_line(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "related": "b"}\n', encoding="utf-8")
    result = cli("tune", str(bad))
    assert result.code == 2 and "'related' must be a list" in result.err
    missing = cli("tune", str(tmp_path / "missing.jsonl"))
    assert missing.code == 2 and len(missing.err_lines) == 1


def test_labels_from_stories_and_from_links() -> None:
    lines = [
        {"id": "a", "story": "x"},
        {"id": "b", "story": "x"},
        {"id": "c", "story": "lonely"},
        {"id": "d", "related": ["a", "d", "e"]},
    ]
    path = Path(__file__).parent / "_labels_tmp.jsonl"
    try:
        _write(path, lines)  # type: ignore[arg-type]
        labels = read_labels(path)
    finally:
        path.unlink()
    assert labels.relevant == {
        "a": frozenset({"b"}),
        "b": frozenset({"a"}),
        "d": frozenset({"a", "e"}),
    }
    assert labels.groups["a"] == labels.groups["b"] != labels.groups["d"]


def test_too_few_labelled_queries_is_an_error(
    open_test_index,  # type: ignore[no-untyped-def]
) -> None:
    index = open_test_index()
    with pytest.raises(InvalidInputError, match="at least"):
        tune(index, read_labels_from({"a": frozenset({"b"})}), Ranking())


def read_labels_from(relevant: dict[str, frozenset[str]]):  # type: ignore[no-untyped-def]
    from recommender.ranking.tuning import Labels

    return Labels(relevant, {key: key for key in relevant})


def test_a_damaged_profile_is_an_error_not_the_default(tmp_path: Path) -> None:
    save_profile(tmp_path, RankingProfile({"time_boost": 0.5}))
    assert load_profile(tmp_path) == RankingProfile({"time_boost": 0.5})
    profile_path(tmp_path).write_text('{"version": 1, "weights": {"warp": 2}}')
    with pytest.raises(InvalidInputError, match="unknown weights"):
        load_profile(tmp_path)
    profile_path(tmp_path).write_text("not json")
    with pytest.raises(InvalidInputError, match="not a ranking profile"):
        load_profile(tmp_path)


def _story_index(open_test_index):  # type: ignore[no-untyped-def]
    from tests.conftest import make_article

    index = open_test_index()
    rows = _rows(stories_follow_time=True)
    index.upsert(
        [
            make_article(str(r["id"]), str(r["title"]), str(r["body"]), published=r["published"])
            for r in rows
        ]
    )
    members: dict[str, set[str]] = {}
    for row in rows:
        members.setdefault(str(row["story"]), set()).add(str(row["id"]))
    relevant = {
        str(row["id"]): frozenset(members[str(row["story"])] - {str(row["id"])}) for row in rows
    }
    return index, read_labels_from(relevant)


@pytest.mark.parametrize(
    "ranking",
    [
        Ranking(),
        Ranking(neighbour_weight=0.0),
        Ranking(neighbour_weight=0.3, dense_weight=0.3, neighbour_count=3, neighbour_pool=12),
        Ranking(neighbour_weight=0.1, time_boost=1.0, time_decay_days=30.0),
    ],
)
def test_the_grid_ranks_a_pool_as_the_recommender_ranks_it(
    open_test_index,  # type: ignore[no-untyped-def]
    ranking: Ranking,
) -> None:
    # The grid's scores (pairwise cosines computed once, blended per setting) put the
    # candidates in the order the live ranking, shared-neighbour bonus included, gives them.
    from recommender import Recommender
    from recommender.ranking.tuning import _pools, pool_scores

    index, labels = _story_index(open_test_index)
    pools, _, _ = _pools(index, labels, [ranking])
    recommender = Recommender(index, ranking, list_depth=0)
    queries = list(labels.relevant)
    assert len(pools) == len(queries)
    bonus_changed_an_order = False
    for query, pool in zip(queries, pools, strict=True):
        scores = pool_scores(ranking, pool)
        ours = pool.row_ids[np.lexsort((pool.row_ids, -scores))[:10]].tolist()
        live = [index.row_id(item.id) for item in recommender.related(query, k=10)]
        assert ours == live, query
        plain = pool.row_ids[np.lexsort((pool.row_ids, -_blend(ranking, pool)))[:10]]
        bonus_changed_an_order |= plain.tolist() != ours
    assert bonus_changed_an_order == (ranking.neighbour_weight > 0.0)


def test_the_grid_tries_the_neighbour_weights_and_a_profile_sets_one(tmp_path: Path) -> None:
    from recommender.ranking.tuning import NEIGHBOUR_WEIGHTS, _grid

    grid = _grid(Ranking())
    assert {ranking.neighbour_weight for ranking in grid} == set(NEIGHBOUR_WEIGHTS)
    assert set(NEIGHBOUR_WEIGHTS) == {0.0, 0.1, 0.2, 0.3}
    save_profile(tmp_path, RankingProfile({"neighbour_weight": 0.0, "dense_weight": 0.45}))
    ranking = build_ranking(Settings(index_dir=tmp_path), tmp_path)
    assert ranking.neighbour_weight == 0.0 and ranking.dense_weight == 0.45
    # A weight set explicitly wins over the profile.
    explicit = Settings(index_dir=tmp_path, neighbour_weight=0.3)
    assert build_ranking(explicit, tmp_path).neighbour_weight == 0.3
