"""The topic taxonomy: labels with a description, example phrases and an IPTC Media Topic.

Two taxonomies ship as package data: `default` (12 news topics) and `iptc` (the 17 top-level
IPTC Media Topics). A user's taxonomy is a JSON or YAML file of the same shape:

    topics:
      - label: security            # the string written to output rows (unique)
        name: Security and war     # optional, defaults to the label
        description: Armed conflict, war and peace ...
        examples: [Air strikes hit rebel positions, ...]   # optional, typical headlines
        terms: [troops, air strike, ceasefire]             # optional key terms
        iptc: medtop:16000000      # optional IPTC Media Topics QCode
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from recommender.topics.errors import InvalidTaxonomyError

DEFAULT_TAXONOMY_RESOURCE = "default_taxonomy.json"
BUILTIN_TAXONOMIES = {"default": DEFAULT_TAXONOMY_RESOURCE, "iptc": "iptc_taxonomy.json"}
"""Taxonomies shipped with newsrec, by the name `--taxonomy` takes."""
_LABEL = re.compile(r"^\S(.*\S)?$")
_IPTC = re.compile(r"^medtop:\d{8}$")
_TOPIC_KEYS = {"label", "name", "description", "examples", "terms", "iptc"}


@dataclass(frozen=True, slots=True)
class Topic:
    label: str
    name: str
    description: str
    examples: tuple[str, ...] = ()
    iptc: str | None = None
    terms: tuple[str, ...] = ()

    @property
    def prompts(self) -> tuple[str, ...]:
        """The texts a zero-shot tagger embeds for this topic: its description, its examples,
        and its key terms as one text (a single word embeds too vaguely to stand alone)."""
        terms = (f"{self.name}: {', '.join(self.terms)}",) if self.terms else ()
        return (f"{self.name}: {self.description}", *self.examples, *terms)


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.topics:
            raise InvalidTaxonomyError(f"taxonomy {self.name!r}: has no topics")
        seen: set[str] = set()
        for topic in self.topics:
            if topic.label in seen:
                raise InvalidTaxonomyError(
                    f"taxonomy {self.name!r}: label {topic.label!r} appears twice"
                )
            seen.add(topic.label)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(topic.label for topic in self.topics)

    def __iter__(self) -> Iterator[Topic]:
        return iter(self.topics)

    def __len__(self) -> int:
        return len(self.topics)

    def iptc_codes(self) -> dict[str, str | None]:
        return {topic.label: topic.iptc for topic in self.topics}


def default_taxonomy() -> Taxonomy:
    """The 12-topic news taxonomy shipped with newsrec."""
    return builtin_taxonomy("default")


def builtin_taxonomy(name: str) -> Taxonomy:
    """A taxonomy shipped with newsrec: `default` (12 topics) or `iptc` (17 IPTC topics)."""
    if name not in BUILTIN_TAXONOMIES:
        known = ", ".join(BUILTIN_TAXONOMIES)
        raise InvalidTaxonomyError(f"no built-in taxonomy {name!r}; built-in: {known}")
    resource = resources.files("recommender.topics").joinpath(BUILTIN_TAXONOMIES[name])
    return taxonomy_from_mapping(json.loads(resource.read_text("utf-8")), source=f"{name} taxonomy")


def resolve_taxonomy(source: str | Path | None) -> Taxonomy:
    """None: the default; a built-in name (`default`, `iptc`); else a JSON/YAML file.

    A file of the same name as a built-in is read when the name has a suffix or a directory
    (`./iptc.yaml`), so the two cannot be confused."""
    if source is None:
        return default_taxonomy()
    if str(source) in BUILTIN_TAXONOMIES:
        return builtin_taxonomy(str(source))
    path = Path(source)
    if not path.suffix and not path.exists():
        known = ", ".join(BUILTIN_TAXONOMIES)
        raise InvalidTaxonomyError(
            f"{source}: neither a built-in taxonomy ({known}) nor a taxonomy file"
        )
    return load_taxonomy(path)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read a taxonomy from a JSON (.json) or YAML (.yaml, .yml) file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidTaxonomyError(f"{source}: no such taxonomy file") from None
    except OSError as error:
        raise InvalidTaxonomyError(f"{source}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InvalidTaxonomyError(f"{source}: not valid UTF-8") from None
    return taxonomy_from_mapping(parse_structured_text(text, path), source=source)


def parse_structured_text(text: str, path: Path) -> Any:
    """JSON or YAML by suffix; a syntax error becomes one line naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidTaxonomyError(
                f"{path}: not valid JSON ({error.msg} at line {error.lineno})"
            ) from None
    if suffix in (".yaml", ".yml"):
        import yaml  # only a YAML file needs PyYAML

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidTaxonomyError(f"{path}: not valid YAML{where}") from None
    raise InvalidTaxonomyError(f"{path}: unknown file type; use .json, .yaml or .yml")


def taxonomy_from_mapping(value: Any, *, source: str) -> Taxonomy:
    """Validate a parsed taxonomy document; every problem is one line naming the topic."""
    if not isinstance(value, dict):
        raise InvalidTaxonomyError(f"{source}: expected a mapping with a 'topics' list")
    topics = value.get("topics")
    if not isinstance(topics, list) or not topics:
        raise InvalidTaxonomyError(f"{source}: 'topics' must be a non-empty list")
    name = value.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise InvalidTaxonomyError(f"{source}: 'name' must be a string")
    parsed = tuple(_topic(entry, position, source) for position, entry in enumerate(topics, 1))
    try:
        return Taxonomy(parsed, name=name)
    except InvalidTaxonomyError as error:
        raise InvalidTaxonomyError(f"{source}: {str(error).split(': ', 1)[1]}") from None


def _topic(entry: Any, position: int, source: str) -> Topic:
    where = f"{source}: topic {position}"
    if not isinstance(entry, dict):
        raise InvalidTaxonomyError(f"{where}: expected a mapping, got {type(entry).__name__}")
    label = entry.get("label")
    if not isinstance(label, str) or not _LABEL.match(label):
        raise InvalidTaxonomyError(
            f"{where}: 'label' must be a non-blank string without surrounding spaces"
        )
    where = f"{source}: topic {label!r}"
    unknown = sorted(set(entry) - _TOPIC_KEYS)
    if unknown:
        raise InvalidTaxonomyError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_TOPIC_KEYS))}"
        )
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise InvalidTaxonomyError(f"{where}: 'description' must be a non-blank string")
    name = entry.get("name", label)
    if not isinstance(name, str) or not name.strip():
        raise InvalidTaxonomyError(f"{where}: 'name' must be a non-blank string")
    examples = entry.get("examples", [])
    if not isinstance(examples, list) or not all(
        isinstance(example, str) and example.strip() for example in examples
    ):
        raise InvalidTaxonomyError(f"{where}: 'examples' must be a list of non-blank strings")
    terms = entry.get("terms", [])
    if not isinstance(terms, list) or not all(
        isinstance(term, str) and term.strip() for term in terms
    ):
        raise InvalidTaxonomyError(f"{where}: 'terms' must be a list of non-blank strings")
    iptc = entry.get("iptc")
    if iptc is not None and (not isinstance(iptc, str) or not _IPTC.match(iptc)):
        raise InvalidTaxonomyError(
            f"{where}: 'iptc' must be an IPTC Media Topics QCode like 'medtop:16000000', "
            f"got {iptc!r}"
        )
    return Topic(
        label,
        name.strip(),
        description.strip(),
        tuple(examples),
        iptc,
        tuple(term.strip() for term in terms),
    )
