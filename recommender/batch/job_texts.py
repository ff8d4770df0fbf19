"""What a batch job will encode, worked out before any model runs: the texts an index
upsert or a `tag_file` run will ask vectors for, each distinct text once, keyed by content
hash (the order the local code will ask in). A bad input row fails here, before anything
is encoded or written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from recommender.errors import InvalidArticleError
from recommender.index.article_index import ArticleIndex
from recommender.index.upsert_plan import UpsertPlan
from recommender.ingest.loaders import read_article_rows
from recommender.topics.tag_output import resume_source
from recommender.topics.vectors import VectorLookup


def plan_texts(index: ArticleIndex, plan: UpsertPlan) -> dict[str, str]:
    """Content hash -> text of what `index.apply(plan)` will encode, in the order it will ask
    (changed articles whose text has no stored vector; each distinct text once)."""
    return index.texts_to_encode(plan)


def file_texts(
    source: Path,
    *,
    output: Path | IO[str] | None = None,
    vectors_for: VectorLookup | None = None,
    skip_invalid: bool = False,
) -> dict[str, str]:
    """Content hash -> text of what `tag_file(source, output, ...)` will encode, in file order.

    Rows already in `output` (a resumed run) and texts `vectors_for` has are left out. A bad
    row raises here, before anything is encoded or written, unless `skip_invalid`.
    """
    written = _ids_in_output(output)
    texts: dict[str, str] = {}
    for _, row in read_article_rows(Path(source)):
        if isinstance(row, InvalidArticleError):
            if not skip_invalid:
                raise row
            continue
        if row.id not in written:
            texts.setdefault(row.content_hash, row.text)
    if vectors_for is not None and texts:
        for key in vectors_for(list(texts)):
            texts.pop(key, None)
    return texts


def _ids_in_output(output: Path | IO[str] | None) -> set[str]:
    """Ids a previous run already wrote to `output` (its partial file, else the complete
    output: what tag_file resumes from). A line that does not parse is left to tag_file,
    which repairs or refuses the file: missing one here costs one encoding."""
    resumed = resume_source(output) if isinstance(output, Path) else None
    if resumed is None:
        return set()
    ids: set[str] = set()
    with resumed.open("rb") as stream:
        for line in stream:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                ids.add(value["id"])
    return ids
