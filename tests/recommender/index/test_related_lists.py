"""Stored related lists: read back instead of ranked live, and kept in step by every write."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from recommender import (
    Article,
    ArticleIndex,
    InvalidInputError,
    Ranking,
    Recommender,
    RelatedFilters,
    Settings,
    build_recommender,
    load_articles,
    open_index,
)
from recommender.ranking.list_refresh import (
    RankedBatch,
    owners_to_rank,
    refresh_lists_after_write,
    stale_lists_ranked,
    store_lists_of,
    store_ranked_lists,
)
from recommender.writer import WriteOptions
from service.cli.main import app
from service.http.fast_reads import StoredListReads
from service.settings import ServiceSettings
from tests.conftest import SEEDS_DIR, make_article
from tests.service_support import app_client, build_index, corpus

OpenIndex = Callable[..., ArticleIndex]
SEEDS = load_articles([SEEDS_DIR / "articles.jsonl"]).articles


@pytest.fixture
def seeded(open_test_index: OpenIndex) -> ArticleIndex:
    index = open_test_index()
    index.upsert(SEEDS)
    return index


def _answers(recommender: Recommender, k: int = 10) -> dict[str, object]:
    """Every article's related list (ids and scores) and slots."""
    ids = sorted(recommender.index.ids())
    related = recommender.related_many(ids, k)
    slots = recommender.slots_many(ids)
    return {
        article_id: (
            [(hit.id, round(hit.score, 9)) for hit in related[article_id]],
            [
                (hit.id, round(hit.score, 9)) if hit else None
                for hit in (slots[article_id].previous, slots[article_id].next)
            ],
        )
        for article_id in ids
    }


def _follow_up(article: Article) -> Article:
    """A new article on the same story: half of the original's words, then its own."""
    words = article.body.split()
    body = (
        " ".join(words[: len(words) // 2])
        + " "
        + " ".join(
            f"Officials said talks on the matter would resume on day {n}." for n in range(12)
        )
    )
    return make_article(
        "follow-up", article.title + ": what comes next", body, published=article.published
    )


def _live(index: ArticleIndex) -> Recommender:
    """A recommender that never reads the stored lists (depth 0: every request ranked)."""
    return Recommender(index, list_depth=0)


class _SearchCounter:
    """Counts dense searches of the index's vector store (the live path always searches)."""

    def __init__(self, index: ArticleIndex) -> None:
        self.calls = 0
        vectors = index.vectors
        search = vectors.search

        def counted(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return search(*args, **kwargs)  # type: ignore[arg-type]

        vectors.search = counted  # type: ignore[method-assign]


@pytest.mark.slow
def test_stored_lists_give_the_live_answers_for_every_k(seeded: ArticleIndex) -> None:
    recommender = Recommender(seeded)
    before = {k: _answers(recommender, k) for k in (1, 5, 10, 20)}
    stored = store_lists_of(recommender, owners_to_rank(recommender))
    assert stored == len(SEEDS) == seeded.store.related_lists.count()
    for k, expected in before.items():
        assert _answers(recommender, k) == expected


@pytest.mark.slow
def test_stored_lists_are_read_without_searching(seeded: ArticleIndex) -> None:
    recommender = Recommender(seeded)
    store_lists_of(recommender, owners_to_rank(recommender))
    counter = _SearchCounter(seeded)
    ids = sorted(seeded.ids())
    recommender.related_many(ids, 10)
    recommender.slots_many(ids)
    assert counter.calls == 0
    # Beyond the stored depth, with filters, or with reasons: ranked live.
    recommender.related(ids[0], k=21)
    recommender.related(ids[0], k=5, filters=RelatedFilters(exclude_ids=frozenset({ids[1]})))
    recommender.related(ids[0], k=5, filters=RelatedFilters(since="2020-01-01"))
    recommender.related(ids[0], k=5, explain=True)
    assert counter.calls >= 4


@pytest.mark.slow
def test_lists_ranked_another_way_are_not_read(seeded: ArticleIndex) -> None:
    store_lists_of(Recommender(seeded), owners_to_rank(Recommender(seeded)))
    other = Recommender(seeded, Ranking(time_boost=1.0))
    assert owners_to_rank(other) == seeded.catalog.row_ids.tolist()
    counter = _SearchCounter(seeded)
    other.related(SEEDS[0].id, k=5)
    assert counter.calls > 0


def _list_holders(index: ArticleIndex, signature: str) -> dict[int, set[int]]:
    lists = index.store.related_lists
    found = {}
    for row_id in index.catalog.row_ids.tolist():
        ranked = lists.get(row_id, signature)
        if ranked is not None:
            found[row_id] = ranked.members()
    return found


@pytest.mark.slow
def test_a_write_drops_every_list_it_makes_stale_in_its_own_transaction(
    seeded: ArticleIndex,
) -> None:
    recommender = Recommender(seeded)
    store_lists_of(recommender, owners_to_rank(recommender))
    signature = recommender.list_signature
    changed, deleted = SEEDS[3], SEEDS[7]
    changed_row, deleted_row = seeded.row_id(changed.id), seeded.row_id(deleted.id)
    holders = {
        owner
        for owner, members in _list_holders(seeded, signature).items()
        if {changed_row, deleted_row} & members
    }
    assert len(holders) > 2
    # No re-ranking afterwards: as if the writer died right after the commit.
    seeded.upsert([dataclasses.replace(changed, body=changed.body + " A late correction.")])
    seeded.delete([deleted.id])
    remaining = _list_holders(seeded, signature)
    assert not holders & set(remaining)
    assert changed_row not in remaining and deleted_row not in remaining
    assert all(not {changed_row, deleted_row} & members for members in remaining.values())
    assert seeded.store.dropped_list_owners >= holders | {changed_row}


@pytest.mark.slow
def test_refresh_after_writes_restores_the_live_answers(seeded: ArticleIndex) -> None:
    recommender = Recommender(seeded)
    store_lists_of(recommender, owners_to_rank(recommender))
    follow_up = _follow_up(SEEDS[0])
    changed = dataclasses.replace(SEEDS[5], title=SEEDS[5].title + " (updated)")
    seeded.upsert([follow_up, changed])
    seeded.delete([SEEDS[9].id])
    batch = stale_lists_ranked(recommender, [follow_up.id, changed.id])
    assert store_ranked_lists(recommender, batch)
    refreshed = {
        summary.id for summary in seeded.store.summaries_by_row_id(list(batch.lists)).values()
    }
    assert {follow_up.id, changed.id} < refreshed and len(refreshed) > 5
    live, served = _answers(_live(seeded)), _answers(recommender)
    for article_id in refreshed:
        assert served[article_id] == live[article_id], article_id
    # Lists no write touched keep their items; only their scores drift a little with the
    # corpus's document frequencies (until `precompute --all`).
    untouched = set(live) - refreshed
    overlap = [
        len({i for i, _ in served[a][0]} & {i for i, _ in live[a][0]}) / len(live[a][0])
        for a in untouched
    ]
    assert sum(overlap) / len(overlap) >= 0.95
    # The new article entered the list of the article it follows up.
    assert "follow-up" in {hit.id for hit in recommender.related(SEEDS[0].id, k=5)}


def test_lists_ranked_before_a_write_are_refused(seeded: ArticleIndex) -> None:
    recommender = Recommender(seeded)
    batch = RankedBatch(
        recommender.ranked_lists([SEEDS[0].id, SEEDS[1].id]), seeded.store.generation
    )
    seeded.delete([SEEDS[2].id])
    assert not store_ranked_lists(recommender, batch)
    assert seeded.store.related_lists.count() == 0


@pytest.mark.slow
def test_a_write_to_an_index_without_stored_lists_stores_every_list(seeded: ArticleIndex) -> None:
    seeded.upsert([make_article("another", "Another story", "About something else entirely.")])
    assert refresh_lists_after_write(Recommender(seeded), ["another"]) == len(SEEDS) + 1
    assert owners_to_rank(Recommender(seeded)) == []
    assert _answers(Recommender(seeded)) == _answers(Recommender(seeded, list_depth=0))


@pytest.mark.slow
def test_a_write_ranks_again_lists_ranked_under_other_settings(seeded: ArticleIndex) -> None:
    store_lists_of(Recommender(seeded), owners_to_rank(Recommender(seeded)))
    other = Recommender(seeded, list_depth=5)
    assert owners_to_rank(other) == seeded.catalog.row_ids.tolist()
    seeded.delete([SEEDS[1].id])
    assert refresh_lists_after_write(other, []) == len(SEEDS) - 1
    assert owners_to_rank(other) == []


def test_depth_zero_stores_no_list_on_a_write(seeded: ArticleIndex) -> None:
    seeded.upsert([make_article("another", "Another story", "About something else entirely.")])
    assert refresh_lists_after_write(Recommender(seeded, list_depth=0), ["another"]) == 0
    assert seeded.store.related_lists.count() == 0


@pytest.fixture
def cli_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    directory = tmp_path / "cli-index"
    runner = CliRunner()
    result = runner.invoke(
        app, ["index", str(SEEDS_DIR / "articles.jsonl"), "--index-dir", str(directory)]
    )
    assert result.exit_code == 0, result.output
    yield directory


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_precompute_command_is_resumable_and_the_cli_keeps_lists_in_step(
    cli_index: Path, tmp_path: Path
) -> None:
    where = ("--index-dir", str(cli_index))
    before = _cli("related", SEEDS[0].id, "-k", "5", "--json", *where)
    # `newsrec index` stored every list already.
    assert f"0 related lists ranked and stored; {len(SEEDS):,} stored" in _cli("precompute", *where)
    assert f"{len(SEEDS):,} related lists ranked" in _cli("precompute", "--all", *where)
    assert _cli("related", SEEDS[0].id, "-k", "5", "--json", *where) == before
    # A follow-up indexed from the CLI enters its neighbour's stored list at once.
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps(_follow_up(SEEDS[0]).to_record()) + "\n")
    _cli("index", str(extra), *where)
    related = json.loads(_cli("related", SEEDS[0].id, "-k", "5", "--json", *where).splitlines()[0])
    assert "0 related lists ranked" in _cli("precompute", *where)
    assert "follow-up" in {item["id"] for item in related["related"]}
    _cli("delete", "follow-up", *where)
    related = json.loads(_cli("related", SEEDS[0].id, "-k", "5", "--json", *where).splitlines()[0])
    assert "follow-up" not in {item["id"] for item in related["related"]}


@pytest.mark.slow
def test_the_service_serves_stored_lists_and_keeps_them_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-ranked lists are stored a few at a time (readers wait for one slice only).
    for_service = WriteOptions.for_service

    def in_slices_of_three(cls: type[WriteOptions], settings: Settings) -> WriteOptions:
        return dataclasses.replace(for_service(settings), lists_per_hold=3)

    monkeypatch.setattr(WriteOptions, "for_service", classmethod(in_slices_of_three))
    settings = build_index(tmp_path / "index")
    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        store_lists_of(recommender, owners_to_rank(recommender))
    new = {
        "title": "Libya Russia defence pact signed in Moscow",
        "body": "Libya Russia security cooperation Haftar Moscow defence pact counterterrorism",
        "published": "2025-10-30T12:00:00Z",
    }
    with app_client(settings) as client:
        assert client.put("/articles/libya%2Fpact", json=new).status_code == 201
        related = client.get("/articles/libya-3/related").json()["related"]
        assert "libya/pact" in [item["id"] for item in related]
        assert client.get("/articles/libya%2Fpact/slots").json()["previous"] is not None
        assert client.delete("/articles/libya-2").status_code == 204
        bulk = [
            {**new, "id": f"cup-extra-{n}", "title": f"Cup final report {n}", "body": "football"}
            for n in range(3)
        ]
        assert client.post("/articles", json={"articles": bulk}).status_code == 200
        related = client.get("/articles/libya-3/related").json()["related"]
        assert "libya-2" not in [item["id"] for item in related]
        served = {
            a: client.get(f"/articles/{quote(a, safe='')}/related").json()
            for a in [a.id for a in corpus() if a.id != "libya-2"] + ["cup-extra-1"]
        }
    with open_index(settings) as index:
        recommender = build_recommender(settings, index)
        # The write re-ranked what it touched: every list is stored, the new one included.
        assert owners_to_rank(recommender) == []
        live = _live(index)
        for article_id, answer in served.items():
            expected = [hit.id for hit in live.related(article_id, k=10)]
            assert [item["id"] for item in answer["related"]] == expected, article_id


@pytest.mark.slow
def test_depth_zero_ranks_every_request_live(seeded: ArticleIndex) -> None:
    store_lists_of(Recommender(seeded), owners_to_rank(Recommender(seeded)))
    live_only = Recommender(seeded, list_depth=0)
    counter = _SearchCounter(seeded)
    assert live_only.related(SEEDS[0].id, k=5) == Recommender(seeded).related(SEEDS[0].id, k=5)
    assert counter.calls == 1
    with pytest.raises(InvalidInputError, match="the list depth is 0"):
        live_only.ranked_lists([SEEDS[0].id])


def test_the_service_writer_ranks_the_lists_a_dead_writer_left_missing(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        store_lists_of(recommender, owners_to_rank(recommender))
        # A writer that dies between its commit and the re-ranking: lists dropped, none made.
        index.upsert([make_article("late", "Libya Russia defence talks", "Haftar Moscow pact")])
        index.delete(["libya-2"])
        index.save()
        missing = owners_to_rank(recommender)
    assert len(missing) > 2
    with app_client(settings):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open_index(settings) as reader:
                left = owners_to_rank(build_recommender(settings, reader))
            if not left:
                break
            time.sleep(0.1)
        assert left == []


@pytest.mark.slow
def test_a_metadata_change_keeps_every_list_and_ranks_nothing(seeded: ArticleIndex) -> None:
    recommender = Recommender(seeded)
    store_lists_of(recommender, owners_to_rank(recommender))
    before = _answers(recommender)
    seeded.upsert([dataclasses.replace(SEEDS[4], source="Another Wire", url="https://x.test/4")])
    assert seeded.store.dropped_list_owners == set()
    assert stale_lists_ranked(recommender, [SEEDS[4].id]).lists == {}
    assert seeded.store.related_lists.count() == len(SEEDS)
    after = _answers(recommender)
    assert after == before  # scores unchanged: only what a list shows is read afresh
    shown = {hit.id: hit.source for hit in recommender.related(SEEDS[5].id, k=20)}
    assert shown[SEEDS[4].id] == "Another Wire"


@pytest.mark.slow
def test_lists_deeper_than_a_quarter_of_the_pool_are_neither_ranked_nor_read(
    seeded: ArticleIndex,
) -> None:
    store_lists_of(Recommender(seeded), owners_to_rank(Recommender(seeded)))
    too_deep = Recommender(seeded, list_depth=51)
    with pytest.raises(InvalidInputError, match="1 to 50 items"):
        too_deep.ranked_lists([SEEDS[0].id])
    counter = _SearchCounter(seeded)
    too_deep.related(SEEDS[0].id, k=5)
    assert counter.calls == 1


@pytest.mark.slow
def test_stored_lists_equal_live_ranking_when_the_pool_is_smaller_than_the_corpus(
    open_test_index: OpenIndex,
) -> None:
    # 360 articles from 12 topics: the 200-candidate pool no longer holds the whole corpus.
    rng = random.Random(5)
    articles = []
    for number in range(360):
        topic = number % 12
        words = [f"t{topic}w{rng.randrange(40)}" for _ in range(60)]
        words += [f"common{rng.randrange(200)}" for _ in range(20)]
        articles.append(
            make_article(
                f"a{number}",
                " ".join(words[:8]),
                " ".join(words),
                published=f"2024-{1 + number % 12:02d}-{1 + number % 28:02d}",
            )
        )
    index = open_test_index()
    index.upsert(articles)
    deepest = Recommender(index, list_depth=50)
    live = {a.id: deepest.related(a.id, k=10) for a in articles[::7]}
    store_lists_of(deepest, owners_to_rank(deepest))
    counter = _SearchCounter(index)
    assert {a: deepest.related(a, k=10) for a in live} == live
    assert counter.calls == 0


def test_reader_processes_pick_up_lists_stored_by_precompute(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    path = "/articles/libya-1/related"
    reader_settings = ServiceSettings(read_only=True, reload_interval=0.1)
    with app_client(settings, reader_settings) as reader:
        fast = StoredListReads(reader.app)
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b""}
        scope["app"] = reader.app
        assert fast._answer(dict(scope)) is None  # no lists yet: ranked by the route
        with open_index(settings, writable=True) as index:
            recommender = build_recommender(settings, index)
            store_lists_of(recommender, owners_to_rank(recommender))
            index.publish_related_lists()
        deadline = time.monotonic() + 10
        while fast._answer(dict(scope)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fast._answer(dict(scope)) == reader.get(path).content
