"""Story contracts: `newsrec story`, `newsrec stories [recluster]`, and the HTTP endpoints."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service.cli.test_cli import Cli, _write_jsonl
from tests.service.cli.test_cli import cli as cli  # the fixture, shared
from tests.service_support import app_client, build_index, corpus

STORY_ARTICLE_KEYS = {"id", "title", "published", "source"}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stories-service")
    build_index(directory)
    return directory


@pytest.fixture(scope="module")
def client(index_dir: Path) -> Iterator[TestClient]:
    from tests.service_support import hashing_settings

    with app_client(hashing_settings(index_dir), ServiceSettings(read_only=True)) as client:
        yield client


# -- HTTP ----------------------------------------------------------------------------------


def test_an_articles_story_lists_its_articles_in_time_order(client: TestClient) -> None:
    reply = client.get("/articles/election-2/story")
    assert reply.status_code == 200
    body = reply.json()
    assert body["story"] == "election"  # the input's story is editorial: it wins
    assert [a["id"] for a in body["articles"]] == ["election-1", "election-2", "election-3"]
    assert all(set(a) == STORY_ARTICLE_KEYS for a in body["articles"])
    assert client.get("/stories/election").json() == body


def test_an_awkward_id_reaches_its_story(client: TestClient) -> None:
    reply = client.get(f"/articles/{quote('story/related', safe='')}/story")
    assert reply.status_code == 200
    assert "story/related" in [a["id"] for a in reply.json()["articles"]]


def test_stories_are_listed_largest_first_and_paged(client: TestClient) -> None:
    first = client.get("/stories", params={"min_size": 1, "limit": 2}).json()
    rest = client.get("/stories", params={"min_size": 1, "limit": 100, "offset": 2}).json()
    sizes = [len(s["articles"]) for s in first["stories"] + rest["stories"]]
    assert first["total"] == rest["total"] == len(sizes)
    assert sizes == sorted(sizes, reverse=True)
    every = {a["id"] for s in first["stories"] + rest["stories"] for a in s["articles"]}
    assert len(every) == len(corpus())  # every article in exactly one story
    recent = client.get("/stories", params={"since": "2025-06-01"}).json()
    assert {s["story"] for s in recent["stories"]} <= {"cup", "libya"} | {
        s["story"] for s in rest["stories"]
    }
    assert "flood" not in {s["story"] for s in recent["stories"]}


@pytest.mark.parametrize(
    "url",
    ["/stories/no-such-story", "/articles/nope/story"],
)
def test_unknown_story_or_article_is_404(client: TestClient, url: str) -> None:
    reply = client.get(url)
    assert reply.status_code == 404
    assert "no " in reply.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"min_size": 0},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"since": "soon"},
        # Past SQLite's 64-bit integers: was a 500 (OverflowError), found by
        # tests.harness.fuzz_service.
        {"min_size": 2**63},
        {"offset": 2**63},
    ],
)
def test_bad_story_listing_parameters_are_422(client: TestClient, params: dict) -> None:
    reply = client.get("/stories", params=params)
    assert reply.status_code == 422
    assert reply.json()["detail"]


def test_related_items_and_slots_carry_their_story(client: TestClient) -> None:
    related = client.get("/articles/flood-2/related", params={"k": 3}).json()["related"]
    assert all(item["story"] for item in related)
    slots = client.get("/articles/flood-2/slots").json()
    assert (slots["previous"]["id"], slots["next"]["id"]) == ("flood-1", "flood-3")
    assert slots["previous"]["kind"] == slots["next"]["kind"] == "story"
    assert slots["previous"]["story"] == "flood"


# -- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def stories_cli(cli: Cli, tmp_path: Path) -> Cli:
    rows = [a.to_record() for a in corpus()]
    for row in rows:
        row.pop("story")  # clustered, not editorial
    result = cli("index", str(_write_jsonl(tmp_path / "corpus.jsonl", rows)))
    assert result.code == 0, result.err
    return cli


def test_cli_story_json_and_text(stories_cli: Cli) -> None:
    result = stories_cli("story", "cup-2", "--json")
    assert result.code == 0 and result.err == ""
    (line,) = result.json_lines()
    assert set(line) == {"story", "articles"}
    ids = [a["id"] for a in line["articles"]]
    assert "cup-2" in ids and ids.index("cup-1") < ids.index("cup-2") < ids.index("cup-3")
    text = stories_cli("story", "cup-2")
    assert text.out.startswith(f"{line['story']} (")


def test_cli_stories_lists_every_article_once_largest_first(stories_cli: Cli) -> None:
    lines = stories_cli("stories", "--json").json_lines()
    sizes = [len(line["articles"]) for line in lines]
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == len(corpus())
    big = stories_cli("stories", "--json", "--min-size", "2").json_lines()
    assert all(len(line["articles"]) >= 2 for line in big)


def test_cli_recluster_gives_the_same_stories(stories_cli: Cli) -> None:
    before = stories_cli("stories", "--json").json_lines()
    result = stories_cli("stories", "recluster")
    assert result.code == 0, result.err
    assert "assigned" in result.out
    after = stories_cli("stories", "--json").json_lines()
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, before))


def test_cli_unknown_ids_are_one_line_and_exit_2(stories_cli: Cli) -> None:
    result = stories_cli("story", "nope")
    assert result.code == 2
    (line,) = result.err_lines
    assert line.startswith("error: ") and "'nope'" in line
    bad = stories_cli("stories", "--min-size", "0")
    assert bad.code == 2 and len(bad.err_lines) == 1


# -- related lists for a page --------------------------------------------------------------


def test_exclude_slots_leaves_the_slots_out_of_the_related_list(client: TestClient) -> None:
    slots = client.get("/articles/flood-2/slots").json()
    slot_ids = {slots["previous"]["id"], slots["next"]["id"]}
    plain = client.get("/articles/flood-2/related", params={"k": 5}).json()["related"]
    assert slot_ids <= {item["id"] for item in plain}
    page = client.get("/articles/flood-2/related", params={"k": 5, "exclude_slots": "true"})
    assert page.status_code == 200
    items = page.json()["related"]
    assert not slot_ids & {item["id"] for item in items}
    assert len(items) == 5
    kept = [item["id"] for item in plain if item["id"] not in slot_ids]
    assert [item["id"] for item in items][: len(kept)] == kept


def test_max_per_story_caps_each_story(client: TestClient) -> None:
    plain = client.get("/articles/libya-1/related", params={"k": 6}).json()["related"]
    assert max(Counter(item["story"] for item in plain).values()) > 1
    capped = client.get("/articles/libya-1/related", params={"k": 6, "max_per_story": 1})
    assert capped.status_code == 200
    items = capped.json()["related"]
    assert max(Counter(item["story"] for item in items).values()) == 1
    assert len(items) == len({item["story"] for item in items})  # as many stories as exist
    assert client.get("/articles/libya-1/related", params={"max_per_story": 0}).status_code == 422


def test_cli_related_with_page_options(stories_cli: Cli) -> None:
    (slots,) = stories_cli("slots", "cup-2", "--json").json_lines()
    taken = {slot["id"] for slot in (slots["previous"], slots["next"]) if slot}
    (line,) = stories_cli("related", "cup-2", "--exclude-slots", "--json").json_lines()
    assert taken and not taken & {item["id"] for item in line["related"]}
    (capped,) = stories_cli("related", "cup-2", "--max-per-story", "1", "--json").json_lines()
    stories = [item["story"] for item in capped["related"]]
    assert len(stories) == len(set(stories))
    assert stories_cli("related", "cup-2", "--max-per-story", "0").code == 2


def test_diversity_mixes_stories_and_zero_is_the_plain_list(client: TestClient) -> None:
    plain = client.get("/articles/libya-1/related", params={"k": 4}).json()["related"]
    zero = client.get("/articles/libya-1/related", params={"k": 4, "diversity": 0}).json()
    assert zero["related"] == plain
    varied = client.get("/articles/libya-1/related", params={"k": 4, "diversity": 0.9})
    assert varied.status_code == 200
    items = varied.json()["related"]
    assert items[0]["id"] == plain[0]["id"]  # the first pick is the most relevant
    assert len({i["story"] for i in items}) > len({i["story"] for i in plain})
    assert client.get("/articles/libya-1/related", params={"diversity": 1.5}).status_code == 422
