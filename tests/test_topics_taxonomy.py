"""The taxonomy: the shipped default and user files, with one-line errors for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.errors import InvalidInputError
from recommender.topics.errors import InvalidTaxonomyError
from recommender.topics.taxonomy import default_taxonomy, load_taxonomy

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
