"""The taxonomy: the shipped default and user files, with one-line errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.errors import InvalidInputError
from recommender.topics.errors import InvalidTaxonomyError
from recommender.topics.taxonomy import (
    builtin_taxonomy,
    default_taxonomy,
    load_taxonomy,
    resolve_taxonomy,
)

DEFAULT_LABELS = (
    "security",
    "diplomacy",
    "politics",
    "crime",
    "economy",
    "disaster",
    "health",
    "environment",
    "science-technology",
    "culture",
    "sport",
    "society",
)


def test_default_taxonomy_has_the_twelve_topics_with_iptc_codes() -> None:
    taxonomy = default_taxonomy()

    assert taxonomy.labels == DEFAULT_LABELS
    codes = taxonomy.iptc_codes()
    assert codes["security"] == "medtop:16000000"
    assert codes["diplomacy"] == "medtop:20000638"  # international relations, under politics
    assert codes["politics"] == "medtop:11000000"
    assert codes["crime"] == "medtop:02000000"
    assert codes["society"] == "medtop:14000000"
    for topic in taxonomy:
        assert topic.description and len(topic.examples) >= 5
        assert topic.prompts[0].startswith(topic.name)


def test_yaml_and_json_files_load_the_same(tmp_path: Path) -> None:
    document = {
        "name": "desk",
        "topics": [
            {"label": "Weather", "description": "Rain, sun and storms.", "examples": ["Rain"]},
            {"label": "Markets", "description": "Stocks and bonds.", "iptc": "medtop:04000000"},
        ],
    }
    json_file = tmp_path / "desk.json"
    json_file.write_text(json.dumps(document), encoding="utf-8")
    yaml_file = tmp_path / "desk.yaml"
    yaml_file.write_text(
        "name: desk\ntopics:\n"
        "  - label: Weather\n    description: Rain, sun and storms.\n    examples: [Rain]\n"
        "  - label: Markets\n    description: Stocks and bonds.\n    iptc: medtop:04000000\n",
        encoding="utf-8",
    )

    from_json, from_yaml = load_taxonomy(json_file), load_taxonomy(yaml_file)

    assert from_json == from_yaml
    assert from_json.labels == ("Weather", "Markets")
    assert from_json.iptc_codes() == {"Weather": None, "Markets": "medtop:04000000"}


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{not json", ".json", "not valid JSON"),
        ("topics: [unclosed", ".yaml", "not valid YAML"),
        ("[]", ".json", "expected a mapping with a 'topics' list"),
        ('{"topics": []}', ".json", "'topics' must be a non-empty list"),
        ('{"topics": ["security"]}', ".json", "topic 1: expected a mapping, got str"),
        ('{"topics": [{"description": "x"}]}', ".json", "topic 1: 'label' must be"),
        ('{"topics": [{"label": "a"}]}', ".json", "topic 'a': 'description' must be"),
        (
            '{"topics": [{"label": "a", "description": "x", "examples": "one"}]}',
            ".json",
            "'examples' must be a list",
        ),
        (
            '{"topics": [{"label": "a", "description": "x", "terms": ["ok", " "]}]}',
            ".json",
            "'terms' must be a list of non-blank strings",
        ),
        (
            '{"topics": [{"label": "a", "description": "x", "iptc": "16000000"}]}',
            ".json",
            "'iptc' must be an IPTC Media Topics QCode",
        ),
        (
            '{"topics": [{"label": "a", "description": "x", "colour": "red"}]}',
            ".json",
            "unknown key 'colour'",
        ),
        (
            '{"topics": [{"label": "a", "description": "x"}, {"label": "a", "description": "y"}]}',
            ".json",
            "label 'a' appears twice",
        ),
        ("topics: []", ".txt", "unknown file type"),
    ],
)
def test_a_malformed_taxonomy_is_one_clear_line(
    tmp_path: Path, content: str, suffix: str, message: str
) -> None:
    path = tmp_path / f"taxonomy{suffix}"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidTaxonomyError) as caught:
        load_taxonomy(path)

    assert isinstance(caught.value, InvalidInputError)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_missing_taxonomy_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidTaxonomyError, match="no such taxonomy file"):
        load_taxonomy(tmp_path / "absent.yaml")


def test_iptc_taxonomy_has_the_seventeen_top_level_media_topics() -> None:
    iptc = builtin_taxonomy("iptc")
    assert len(iptc) == 17
    assert sorted(iptc.iptc_codes().values()) == [f"medtop:{n:02d}000000" for n in range(1, 18)]
    assert all(len(topic.examples) >= 8 and topic.description for topic in iptc)
    # Labels shared with the default taxonomy carry the same IPTC code there.
    default_codes = default_taxonomy().iptc_codes()
    for label, code in iptc.iptc_codes().items():
        assert default_codes.get(label, code) == code


def test_taxonomies_by_name_or_by_file(tmp_path: Path) -> None:
    assert resolve_taxonomy(None) == default_taxonomy() == resolve_taxonomy("default")
    assert resolve_taxonomy("iptc") == builtin_taxonomy("iptc")
    path = tmp_path / "iptc.json"  # a file named like a built-in is read as a file
    path.write_text(json.dumps({"topics": [{"label": "x", "description": "y"}]}), "utf-8")
    assert resolve_taxonomy(path).labels == ("x",)
    with pytest.raises(InvalidTaxonomyError, match="neither a built-in taxonomy"):
        resolve_taxonomy("ipct")
    with pytest.raises(InvalidTaxonomyError, match="no built-in taxonomy 'x'; built-in"):
        builtin_taxonomy("x")


def test_key_terms_become_one_prompt(tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(
        "topics:\n  - label: cricket\n    description: The game of cricket.\n"
        "    terms: [innings, wicket, bowler]\n",
        encoding="utf-8",
    )
    (topic,) = load_taxonomy(path)
    assert topic.terms == ("innings", "wicket", "bowler")
    assert topic.prompts == ("cricket: The game of cricket.", "cricket: innings, wicket, bowler")
