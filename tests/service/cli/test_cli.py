"""The `newsrec` CLI, driven in-process through `service.cli.main.main` with the hashing embedder.

Three stories in a dozen short articles, told with their own words, so the hashing embedder
ranks a story's articles above the others. Errors: exit code 2 and one line on stderr.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.cli.main import main

STORIES: dict[str, list[tuple[str, str, str, str]]] = {
    # story: [(id, published, title, body), ...]
    "harbour": [
        (
            "h1",
            "2025-03-01T08:00:00Z",
            "Dockworkers strike shuts harbour cranes",
            "Harbour dockworkers began a strike at dawn; cranes stood idle and container "
            "shipping waited outside the port.",
        ),
        (
            "h2",
            "2025-03-03T09:00:00Z",
            "Container shipping queues grow as harbour strike continues",
            "Idle cranes and striking dockworkers left container ships anchored off the "
            "harbour port for a third day.",
        ),
        (
            "h3",
            "2025-03-05",
            "Port owners meet striking dockworkers over harbour cranes",
            "Talks on crane automation at the harbour port opened as the dockworkers strike "
            "held container shipping still.",
        ),
        (
            "h4",
            "2025-03-09T18:30:00+01:00",
            "Harbour strike ends; dockworkers return to cranes",
            "Dockworkers voted to end the strike and container shipping resumed at the port "
            "as harbour cranes restarted.",
        ),
    ],
    "election": [
        (
            "e1",
            "2025-02-10T07:00:00Z",
            "Election commission prints ballots for mayoral vote",
            "Ballots for the mayoral election went to print as candidates filed papers and "
            "polling stations were assigned.",
        ),
        (
            "e2",
            "2025-02-14",
            "Mayoral candidates debate before election vote",
            "Candidates clashed in a televised election debate as polling showed the mayoral "
            "vote tightening.",
        ),
        (
            "e3",
            "2025-02-20T21:00:00Z",
            "Turnout high as polling stations close in mayoral election",
            "Election officials counted ballots after polling stations closed; turnout in the "
            "mayoral vote beat forecasts.",
        ),
        (
            "e4",
            "2025-02-21T10:00:00Z",
            "Mayoral election winner declared after ballots counted",
            "The election commission declared the mayoral vote winner once ballots from every "
            "polling station were counted.",
        ),
    ],
    "measles": [
        (
            "v1",
            "2025-01-05T12:00:00Z",
            "Measles cases rise; clinics offer vaccine doses",
            "Health clinics opened extra measles vaccine sessions as nurses reported rising "
            "cases among children.",
        ),
        (
            "v2",
            "2025-01-12T12:00:00Z",
            "Nurses run school measles vaccine clinics",
            "School nurses gave measles vaccine doses to children at pop-up clinics across "
            "the district.",
        ),
        (
            "v3",
            "2025-01-20T12:00:00Z",
            "Measles vaccine uptake climbs at clinics",
            "Clinics reported measles vaccine doses up sharply as nurses extended hours for "
            "children.",
        ),
        (
            "v4",
            "2025-02-01T12:00:00Z",
            "Measles outbreak slows after vaccine drive",
            "New measles cases fell as the vaccine drive by clinics and nurses reached most "
            "children.",
        ),
    ],
}
STORY_OF = {article[0]: story for story, articles in STORIES.items() for article in articles}
ALL_IDS = list(STORY_OF)
SOURCES = ["Coast Daily", "Wire", None]
RESULT_KEYS = {"id", "title", "score", "published", "source", "topics", "story"}
SLOT_KEYS = RESULT_KEYS | {"kind"}  # a slot says whether it continues the story
STORE_FILES = ("newsrec-store.sqlite", "newsrec-manifest.json")


def _rows() -> list[dict[str, Any]]:
    articles = [article for story in STORIES.values() for article in story]
    return [
        {
            "id": article_id,
            "title": title,
            "body": body,
            "published": published,
            "source": SOURCES[position % len(SOURCES)],
            "story": STORY_OF[article_id],
        }
        for position, (article_id, published, title, body) in enumerate(articles)
    ]


def _write_jsonl(path: Path, rows: list[dict[str, Any]] | list[str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out_lines]


class Cli:
    """Runs `main` in-process and returns what it printed; `--index-dir` added by default."""

    def __init__(self, capsys: pytest.CaptureFixture[str], index_dir: Path) -> None:
        self.capsys = capsys
        self.index_dir = index_dir

    def __call__(self, *args: str, index: bool = True) -> Run:
        argv = list(args)
        if index:
            argv += ["--index-dir", str(self.index_dir)]
        self.capsys.readouterr()
        code = main(argv)
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.delenv("NEWSREC_HOME", raising=False)
    # main() sets these with setdefault; setting them here lets monkeypatch undo them.
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "error")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return Cli(capsys, tmp_path / "index")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return _write_jsonl(tmp_path / "corpus.jsonl", _rows())


@pytest.fixture
def indexed(cli: Cli, corpus: Path) -> Cli:
    result = cli("index", str(corpus))
    assert result.code == 0, result.err
    return cli


def _assert_one_error_line(result: Run, *fragments: str) -> None:
    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in result.err_lines[0]
    assert "Traceback" not in result.err


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in STORE_FILES}


# -- index ---------------------------------------------------------------------------------------


def test_index_prints_counts_then_everything_is_unchanged(cli: Cli, corpus: Path) -> None:
    first = cli("index", str(corpus))
    assert first.code == 0
    assert len(first.out_lines) == 1
    assert "12 added, 0 updated, 0 unchanged, 0 skipped" in first.out
    assert "12 texts encoded" in first.out

    second = cli("index", str(corpus))
    assert second.code == 0
    assert "0 added, 0 updated, 12 unchanged, 0 skipped" in second.out
    assert "0 texts encoded" in second.out
    assert second.err == ""  # nothing to encode: no progress bar either


def test_index_counts_updates_and_additions(cli: Cli, corpus: Path, tmp_path: Path) -> None:
    assert cli("index", str(corpus)).code == 0
    rows = _rows()
    rows[0]["body"] += " Police watched the picket line."  # text change
    rows[1]["source"] = "Another Outlet"  # metadata change
    rows.append({"id": "n1", "title": "Library opens a new reading room", "body": "Books."})
    changed = _write_jsonl(tmp_path / "changed.jsonl", rows)
    result = cli("index", str(changed))
    assert result.code == 0
    assert "1 added, 2 updated, 10 unchanged, 0 skipped" in result.out
    assert "2 texts encoded" in result.out
    assert cli("info", "--json").json_lines()[0]["articles"] == 13


def test_index_skip_invalid_counts_and_reports_the_bad_rows(cli: Cli, tmp_path: Path) -> None:
    rows: list[str] = [json.dumps(row) for row in _rows()[:3]]
    rows.insert(1, '{"id": 5, "title": "numeric id"}')
    rows.append("{not json")
    path = _write_jsonl(tmp_path / "mixed.jsonl", rows)
    result = cli("index", str(path), "--skip-invalid")
    assert result.code == 0
    assert "3 added, 0 updated, 0 unchanged, 2 skipped" in result.out
    assert "mixed.jsonl, line 2" in result.err
    assert cli("info", "--json").json_lines()[0]["articles"] == 3


def test_index_of_a_bad_file_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    rows: list[str] = [json.dumps(row) for row in _rows()]
    rows[4] = '{"id": "e1", "title": "T", "published": "yesterday"}'
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    result = cli("index", str(path))
    _assert_one_error_line(result, "bad.jsonl", "line 5", "published", "nothing was written")
    assert result.out == ""
    assert not cli.index_dir.exists()


def test_index_of_a_bad_file_leaves_an_existing_index_unchanged(
    cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    assert cli("index", str(corpus)).code == 0
    before = _snapshot(cli.index_dir)
    bad = _write_jsonl(
        tmp_path / "more.jsonl",
        [{"id": "n1", "title": "A new article"}, {"id": "h1", "title": 12}],
    )
    result = cli("index", str(bad))
    _assert_one_error_line(result, "more.jsonl", "line 2", "'title'")
    assert _snapshot(cli.index_dir) == before
    info = cli("info", "--json").json_lines()[0]
    assert info["articles"] == 12


def test_index_duplicate_ids_across_files_fail_naming_both(
    cli: Cli, corpus: Path, tmp_path: Path
) -> None:
    other = _write_jsonl(tmp_path / "other.jsonl", [{"id": "v2", "title": "Copy"}])
    result = cli("index", str(corpus), str(other))
    _assert_one_error_line(result, "other.jsonl, line 1", "corpus.jsonl, line", "'v2'")
    assert not cli.index_dir.exists()


@pytest.mark.parametrize("name", ["missing.jsonl", "articles.txt"])
def test_index_of_a_missing_or_unknown_file(cli: Cli, tmp_path: Path, name: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text('{"id": "a", "title": "T"}\n', encoding="utf-8")
    result = cli("index", str(tmp_path / name))
    _assert_one_error_line(result, name)
    assert not cli.index_dir.exists()


def test_index_accepts_csv(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,body,published,topics\n"
        "c1,Harbour strike,Dockworkers strike,2025-03-01,economy;society\n"
        "c2,Election day,Ballots counted,,\n",
        encoding="utf-8",
    )
    result = cli("index", str(path))
    assert result.code == 0 and "2 added" in result.out


# -- related -------------------------------------------------------------------------------------


def test_related_json_shape_and_story_ranking(indexed: Cli) -> None:
    result = indexed("related", "h2", "-k", "3", "--json")
    assert result.code == 0 and result.err == ""
    (line,) = result.json_lines()
    assert set(line) == {"id", "related", "withheld"} and line["id"] == "h2"
    hits = line["related"]
    assert len(hits) == 3 and line["withheld"] == 0  # no floor asked for
    for hit in hits:
        assert set(hit) == RESULT_KEYS
        assert isinstance(hit["score"], float)
    assert {hit["id"] for hit in hits} == {"h1", "h3", "h4"}
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    by_id = {row["id"]: row for row in _rows()}
    for hit in hits:
        assert hit["title"] == by_id[hit["id"]]["title"]
        assert hit["published"] == by_id[hit["id"]]["published"]
        assert hit["source"] == by_id[hit["id"]]["source"]


def test_related_default_k_returns_all_others_when_fewer_than_ten(indexed: Cli) -> None:
    (line,) = indexed("related", "e1", "--json").json_lines()
    ids = [hit["id"] for hit in line["related"]]
    assert len(ids) == 10 and "e1" not in ids and len(set(ids)) == 10
    assert set(ids[:3]) == {"e2", "e3", "e4"}


def test_related_several_ids_one_line_each_in_order(indexed: Cli) -> None:
    result = indexed("related", "v3", "e2", "h1", "-k", "2", "--json")
    assert result.code == 0
    lines = result.json_lines()
    assert [line["id"] for line in lines] == ["v3", "e2", "h1"]
    for line in lines:
        assert len(line["related"]) == 2
        assert {STORY_OF[hit["id"]] for hit in line["related"]} == {STORY_OF[line["id"]]}


def test_related_plain_text_output(indexed: Cli) -> None:
    result = indexed("related", "h1", "-k", "2")
    assert result.code == 0
    assert result.out_lines[0] == "h1"
    assert len(result.out_lines) == 3
    for rank, line in enumerate(result.out_lines[1:], start=1):
        assert line.lstrip().startswith(f"{rank}.")
        assert any(f" {other} " in line for other in ("h2", "h3", "h4"))


def test_related_unknown_id_among_known_ones(indexed: Cli) -> None:
    result = indexed("related", "h1", "nope", "e1", "-k", "2", "--json")
    _assert_one_error_line(result, "'nope'")
    assert [line["id"] for line in result.json_lines()] == ["h1", "e1"]


def test_related_ids_file(indexed: Cli, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("h1\n\n  v2  \ne4\n", encoding="utf-8")
    result = indexed("related", "e2", "--ids-file", str(ids), "-k", "1", "--json")
    assert result.code == 0
    assert [line["id"] for line in result.json_lines()] == ["e2", "h1", "v2", "e4"]


def test_related_ids_from_stdin(indexed: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("v1\nh4\n"))
    result = indexed("related", "--ids-file", "-", "-k", "1", "--json")
    assert result.code == 0
    lines = result.json_lines()
    assert [line["id"] for line in lines] == ["v1", "h4"]
    assert STORY_OF[lines[0]["related"][0]["id"]] == "measles"


def test_related_missing_ids_file(indexed: Cli, tmp_path: Path) -> None:
    result = indexed("related", "--ids-file", str(tmp_path / "none.txt"))
    _assert_one_error_line(result, "none.txt")
    assert result.out == ""


def test_related_without_ids(indexed: Cli) -> None:
    result = indexed("related")
    _assert_one_error_line(result)
    assert result.out == ""


@pytest.mark.parametrize("k", ["0", "-1", "1001", "ten"])
def test_related_k_out_of_range(indexed: Cli, k: str) -> None:
    result = indexed("related", "h1", "-k", k, "--json")
    _assert_one_error_line(result, "k")
    assert result.out == ""


def test_related_on_a_directory_without_an_index(cli: Cli) -> None:
    result = cli("related", "h1")
    _assert_one_error_line(result, str(cli.index_dir))
    assert not (cli.index_dir / STORE_FILES[0]).exists()


# -- slots ---------------------------------------------------------------------------------------


def test_slots_json_shape_and_sides(indexed: Cli) -> None:
    result = indexed("slots", "h2", "e3", "--json")
    assert result.code == 0 and result.err == ""
    h2, e3 = result.json_lines()
    for line in (h2, e3):
        assert set(line) == {"id", "previous", "next"}
        assert set(line["previous"]) == SLOT_KEYS and set(line["next"]) == SLOT_KEYS
        assert line["previous"]["id"] != line["next"]["id"]
    assert h2["id"] == "h2"
    assert h2["previous"]["id"] == "h1"  # the only earlier harbour article
    assert h2["next"]["id"] in {"h3", "h4"}
    assert e3["previous"]["id"] in {"e1", "e2"}
    assert e3["next"]["id"] == "e4"


def test_slots_first_article_of_a_story_has_no_previous(indexed: Cli) -> None:
    # v1 is the earliest article of all: nothing is earlier, so no previous slot (it used to
    # take the best remaining related article, a later one); next is its story's best-scored
    # later article (the default slot strategy, story-related), the first of them related.
    (line,) = indexed("slots", "v1", "--json").json_lines()
    assert line["previous"] is None
    (related,) = indexed("related", "v1", "-k", "10", "--json").json_lines()
    later_in_story = [hit["id"] for hit in related["related"] if hit["id"] in {"v2", "v3", "v4"}]
    assert line["next"]["id"] == later_in_story[0] and line["next"]["kind"] == "story"


def test_slots_unknown_id_among_known_ones(indexed: Cli, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("missing-1\nv2\n", encoding="utf-8")
    result = indexed("slots", "h3", "--ids-file", str(ids), "--json")
    _assert_one_error_line(result, "'missing-1'")
    assert [line["id"] for line in result.json_lines()] == ["h3", "v2"]


def test_slots_with_a_single_article_are_null(cli: Cli, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "one.jsonl", [{"id": "only", "title": "Alone"}])
    assert cli("index", str(path)).code == 0
    (line,) = cli("slots", "only", "--json").json_lines()
    assert line == {"id": "only", "previous": None, "next": None}


# -- similar, delete, info -----------------------------------------------------------------------


def test_similar_json(indexed: Cli) -> None:
    result = indexed(
        "similar",
        "--title",
        "Ballots and polling in the mayoral election",
        "--body",
        "Candidates await the vote.",
        "-k",
        "3",
        "--json",
    )
    assert result.code == 0
    (line,) = result.json_lines()
    assert set(line) == {"related"}
    assert len(line["related"]) == 3
    assert {STORY_OF[hit["id"]] for hit in line["related"]} == {"election"}
    assert all(set(hit) == RESULT_KEYS for hit in line["related"])
    # Not indexed by asking.
    assert indexed("info", "--json").json_lines()[0]["articles"] == 12


def test_similar_with_an_empty_title_and_body(indexed: Cli) -> None:
    result = indexed("similar", "--title", "  ", "--json")
    _assert_one_error_line(result)
    assert result.out == ""


def test_delete_then_the_id_is_unknown(indexed: Cli) -> None:
    result = indexed("delete", "h1", "v4")
    assert result.code == 0
    assert "deleted 2 articles" in result.out
    assert indexed("info", "--json").json_lines()[0]["articles"] == 10
    _assert_one_error_line(indexed("related", "h1"), "'h1'")
    (line,) = indexed("related", "h2", "--json").json_lines()
    assert "h1" not in {hit["id"] for hit in line["related"]}


def test_delete_unknown_id(indexed: Cli) -> None:
    result = indexed("delete", "ghost")
    _assert_one_error_line(result, "'ghost'")
    assert indexed("info", "--json").json_lines()[0]["articles"] == 12


def test_delete_known_and_unknown_deletes_the_known(indexed: Cli) -> None:
    result = indexed("delete", "e1", "ghost")
    _assert_one_error_line(result, "'ghost'")
    assert indexed("info", "--json").json_lines()[0]["articles"] == 11


def test_info_json(indexed: Cli) -> None:
    result = indexed("info", "--json")
    assert result.code == 0 and result.err == ""
    (line,) = result.json_lines()
    assert line["articles"] == 12
    assert line["embedder"] == "hashing-bow-256"
    assert line["dimension"] == 256
    assert line["index_type"] == "exact"
    assert line["directory"] == str(indexed.index_dir)
    assert isinstance(line["schema_version"], int) and isinstance(line["generation"], int)


def test_index_dir_defaults_to_newsrec_home(
    cli: Cli, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("NEWSREC_HOME", str(home))
    assert cli("index", str(corpus), index=False).code == 0
    assert (home / STORE_FILES[0]).exists()
    assert cli("info", "--json", index=False).json_lines()[0]["articles"] == 12


def test_unknown_command_is_one_line(cli: Cli) -> None:
    _assert_one_error_line(cli("frobnicate", index=False))


# -- no model for commands that encode nothing (fresh interpreters) --------------------------


def _run_python(script: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "NEWSREC_HOME"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.mark.slow
def test_read_commands_and_an_embedder_mismatch_never_import_torch(indexed: Cli) -> None:
    # One fresh interpreter (imports cannot be checked in this one): related, slots and info
    # on a hashing index, then info with the index's embedder changed to minilm.
    directory = str(indexed.index_dir)
    result = _run_python(
        f"""
        import contextlib, io, json, os, sys
        from service.cli.main import main
        steps = []
        for embedder, argv in (
            ("hashing", ["related", "h1", "e1", "--json"]),
            ("hashing", ["slots", "v2", "--json"]),
            ("hashing", ["info"]),
            ("minilm", ["info"]),
        ):
            os.environ["NEWSREC_EMBEDDER"] = embedder
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv + ["--index-dir", {directory!r}])
            loaded = [name for name in ("torch", "sentence_transformers", "transformers")
                      if name in sys.modules]
            steps.append({{"code": code, "out": out.getvalue(), "err": err.getvalue(),
                           "loaded": loaded}})
        print(json.dumps(steps))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    related, slots, info, mismatch = json.loads(result.stdout)
    for step in (related, slots, info):
        assert (step["code"], step["err"], step["loaded"]) == (0, "", [])
    assert [json.loads(line)["id"] for line in related["out"].splitlines()] == ["h1", "e1"]
    assert json.loads(slots["out"])["previous"] is not None
    assert "hashing-bow-256" in info["out"]

    assert mismatch["code"] == 2
    assert mismatch["loaded"] == []
    assert mismatch["out"] == ""
    lines = mismatch["err"].splitlines()
    assert len(lines) == 1, mismatch["err"]
    assert "hashing-bow-256" in lines[0] and "all-MiniLM-L6-v2" in lines[0]


def test_explain_says_why_in_json_and_text(indexed: Cli) -> None:
    (line,) = indexed("related", "h2", "-k", "2", "--explain", "--json").json_lines()
    for hit in line["related"]:
        assert set(hit) == RESULT_KEYS | {"why", "reasons"}
        assert hit["why"]
        # h2 is dated: every dated neighbour is earlier or later coverage.
        assert hit["reasons"]["coverage"] in {"earlier", "later", "same time"}
    (slots,) = indexed("slots", "h2", "--explain", "--json").json_lines()
    assert slots["previous"]["reasons"]["coverage"] == "earlier"
    assert slots["next"]["reasons"]["coverage"] == "later"
    text = indexed("slots", "h2", "--explain")
    assert text.code == 0
    assert sum(row.strip().startswith("why: ") for row in text.out.splitlines()) == 2
    plain = indexed("related", "h2", "-k", "2", "--json").json_lines()[0]
    assert all("why" not in hit for hit in plain["related"])
