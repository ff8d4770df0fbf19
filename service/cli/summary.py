"""`newsrec summary` and `newsrec explain`: register them with `register(app)`.

    newsrec summary ID [--sentences 3] [--json]          # an indexed article
    newsrec summary --title T --body B [--sentences 3]    # any text; nothing is indexed
    newsrec explain ID... [-k 10] [--json]                # related and slots, with their why

A summary of an indexed article is cached beside the index (`newsrec-summaries.sqlite`),
so asking again (for any number of sentences) reads it back. The default scorer needs no
model; `--method dense-...` encodes sentences with the index's embedder.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from recommender import (
    ArticleNotFoundError,
    InvalidInputError,
    RelatedArticle,
    build_embedder,
    build_recommender,
    open_index,
)
from recommender.summaries.summary import (
    DEFAULT_METHOD,
    DEFAULT_SENTENCES,
    MAX_SENTENCES,
    METHODS,
    Summarizer,
    summarizer_for,
)
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.options import AsJson, IndexDir

_EXIT_BAD_INPUT = 2


def summary(
    context: typer.Context,
    article_id: Annotated[str | None, typer.Argument(help="An indexed article id.")] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of a text to summarise instead.")
    ] = None,
    body: Annotated[str | None, typer.Option("--body", help="Body of that text.")] = None,
    sentences: Annotated[
        int,
        typer.Option(
            "--sentences", "-n", min=1, max=MAX_SENTENCES, help="How many sentences to keep."
        ),
    ] = DEFAULT_SENTENCES,
    method: Annotated[
        str, typer.Option("--method", help=f"Sentence scorer: {', '.join(METHODS)}.")
    ] = DEFAULT_METHOD,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """The most central sentences of an article's body, verbatim and in their order."""
    settings = command_settings(context, index_dir)
    if article_id is not None:
        if title is not None or body is not None:
            raise InvalidInputError("give an article id or --title/--body, not both")
        with open_index(settings) as article_index:
            article = article_index.article(article_id)
            found = summarizer_for(article_index, method).summarize_article(article, sentences)
        _print_summary({"id": article_id, "sentences": list(found.sentences)}, as_json)
        return
    if body is None or not body.strip():
        raise InvalidInputError("give an article id, or a text with --body (and --title)")
    embedder = build_embedder(settings) if method.startswith("dense") else None
    found = Summarizer(embedder, method).summarize(title or "", body, sentences)
    _print_summary({"sentences": list(found.sentences)}, as_json)


def explain(
    context: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Article ids.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="How many related.")] = 10,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """Related articles and previous/next slots, each with why it was picked."""
    settings = command_settings(context, index_dir)
    with open_index(settings) as article_index:
        known = [article_id for article_id in ids if article_id in article_index]
        recommender = build_recommender(settings, article_index)
        lists = recommender.related_many(known, k, explain=True)
        slots = recommender.slots_many(known, explain=True)
    for article_id in dict.fromkeys(known):
        previous, following = slots[article_id].previous, slots[article_id].next
        if as_json:
            _json_line(
                {
                    "id": article_id,
                    "previous": previous.to_dict() if previous else None,
                    "next": following.to_dict() if following else None,
                    "related": [hit.to_dict() for hit in lists[article_id]],
                }
            )
            continue
        output.line(article_id)
        output.line(f"  previous: {_described(previous)}")
        output.line(f"  next:     {_described(following)}")
        for rank, hit in enumerate(lists[article_id], start=1):
            output.line(f"  {rank:>3}. {_described(hit)}")
    unknown = [article_id for article_id in dict.fromkeys(ids) if article_id not in known]
    for article_id in unknown:
        output.error(str(ArticleNotFoundError(article_id)))
    if unknown:
        raise typer.Exit(_EXIT_BAD_INPUT)


def register(app: typer.Typer) -> None:
    """Add `summary` and `explain` to the main `newsrec` application."""
    app.command("summary")(summary)
    app.command("explain")(explain)


def _print_summary(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _json_line(found)
        return
    if "id" in found:
        output.line(found["id"])
    for sentence in found["sentences"]:
        output.line(f"  - {sentence}" if "id" in found else sentence)


def _described(hit: RelatedArticle | None) -> str:
    if hit is None:
        return "-"
    published = (hit.published or "undated")[:16]
    return f"{hit.score:.3f}  {published:<16}  {hit.id}  {hit.title[:80]}\n         why: {hit.why}"


def _json_line(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
