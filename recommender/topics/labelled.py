"""Gold labels of a labelled article file, for training and evaluation.

Labels come from the `topics` field (a list of strings) by default, or from another field of
the row holding a string or a list of strings (WCEP keeps its section in `topic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recommender.articles import KNOWN_FIELDS, Article
from recommender.errors import InvalidInputError
from recommender.ingest.loaders import load_articles

DEFAULT_LABEL_FIELD = "topics"
# Fields of the article model that hold one value per article (its text, id, date, address),
# never a class: as a label field each article would be a class of its own.
NOT_LABEL_FIELDS = ("id", "title", "body", "published", "url")


@dataclass(frozen=True)
class LabelledArticles:
    articles: list[Article]
    labels: list[tuple[str, ...]]
    """The gold labels of each article, same order; never empty."""
    unlabelled: int  # valid rows without labels, left out
    invalid: int  # bad rows skipped (only with skip_invalid)


def gold_labels(article: Article, field: str = DEFAULT_LABEL_FIELD) -> tuple[str, ...]:
    """The article's labels in `field`; () when absent. A non-string label is an error."""
    if field in NOT_LABEL_FIELDS:
        raise InvalidInputError(
            f"field {field!r} is the article's own {field}, not a label; label fields: topics, "
            "section, story, source or a field of your own"
        )
    # A field the article model knows (`section`: a site's own desks) is an attribute, not extra.
    value = getattr(article, field) if field in KNOWN_FIELDS else article.extra.get(field)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise InvalidInputError(
            f"article {article.id!r}: field {field!r} must be a label or a list of labels"
        )
    return tuple(dict.fromkeys(label.strip() for label in values if label.strip()))


def load_labelled(
    path: Path, *, field: str = DEFAULT_LABEL_FIELD, skip_invalid: bool = False
) -> LabelledArticles:
    """Read and validate a whole labelled file; rows without labels are counted, not used."""
    batch = load_articles([path], skip_invalid=skip_invalid)
    articles, labels = [], []
    for article in batch.articles:
        found = gold_labels(article, field)
        if found:
            articles.append(article)
            labels.append(found)
    if not articles:
        raise InvalidInputError(f"{path}: no row has labels in field {field!r}")
    return LabelledArticles(
        articles, labels, len(batch.articles) - len(articles), len(batch.invalid)
    )
