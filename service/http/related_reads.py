"""One read path for an article's related list and slots: the response cache, then the stored
lists, then the live ranking.

The ASGI fast layer (`fast_reads.py`) and the routes (`routes/articles.py`) both read through
here. The fast layer runs on the event loop and takes only what comes without waiting
(`answer_now`); a request it cannot answer that way goes on to the route, which waits for the
live ranking in a worker thread (`answer`). Both render the same bytes, so a page sees one
answer whichever layer served it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

from recommender import RelatedArticle, RelatedFilters, Slots
from recommender.ranking.results import RelatedResult
from service.http.live_index import LiveIndex
from service.http.schemas import RelatedItem, RelatedResponse, SlotsResponse
from service.http.snapshot import Snapshot

Render = Callable[[Snapshot], bytes]


@dataclass(frozen=True)
class ReadRequest:
    """What one read asks: its response-cache key, how to answer from the stored lists
    (None when they cannot serve it: explanations are never stored) and how to rank live."""

    key: tuple[object, ...]
    stored: Callable[[Snapshot], bytes | None] | None
    ranked: Render


def answer_now(live: LiveIndex, request: ReadRequest) -> bytes | None:
    """The cached answer, else the stored one; None when only the live ranking can answer
    or a write holds the index (never waits)."""
    found = live.cached(request.key)
    if found is None and request.stored is not None:
        found = live.answer_at_once(request.key, request.stored)
    return found


async def answer(live: LiveIndex, request: ReadRequest) -> bytes:
    """`answer_now`, else the live ranking in a worker thread (cached per index version)."""
    found = answer_now(live, request)
    if found is None:
        found = await run_in_threadpool(live.answer, request.key, request.ranked)
    return found


def related_request(
    article_id: str,
    k: int,
    filters: RelatedFilters,
    *,
    explain: bool = False,
    key: tuple[object, ...] | None = None,
) -> ReadRequest:
    """A related-by-id read (`key`: the route's, which names every parameter)."""

    def stored(snapshot: Snapshot) -> bytes | None:
        found = snapshot.recommender.stored_related(article_id, k, filters)
        return result_json(article_id, found) if found is not None else None

    def ranked(snapshot: Snapshot) -> bytes:
        found = snapshot.recommender.related_results([article_id], k, filters, explain=explain)
        return result_json(article_id, found[article_id])

    return ReadRequest(
        key if key is not None else related_key(article_id, k, explain=explain),
        None if explain else stored,
        ranked,
    )


def slots_request(article_id: str, *, explain: bool = False) -> ReadRequest:
    """A slots read."""

    def stored(snapshot: Snapshot) -> bytes | None:
        found = snapshot.recommender.stored_slots(article_id)
        return slots_json(article_id, found) if found is not None else None

    def ranked(snapshot: Snapshot) -> bytes:
        return slots_json(article_id, snapshot.recommender.slots(article_id, explain=explain))

    return ReadRequest(slots_key(article_id, explain), None if explain else stored, ranked)


def related_key(
    article_id: str,
    k: int,
    since: str | None = None,
    until: str | None = None,
    excluded: frozenset[str] = frozenset(),
    topic: str | None = None,
    max_age_days: float | None = None,
    min_score: float | None = None,
    explain: bool = False,
    floor: str | None = None,
) -> tuple[object, ...]:
    """The response cache's key of a related request."""
    return (
        "related",
        article_id,
        k,
        since,
        until,
        excluded,
        topic,
        max_age_days,
        min_score,
        explain,
        floor,
    )


def slots_key(article_id: str, explain: bool = False) -> tuple[object, ...]:
    return ("slots", article_id, explain)


def related_json(article_id: str, hits: list[RelatedArticle], withheld: int | None = None) -> bytes:
    counted = {} if withheld is None else {"withheld": withheld}
    answer = RelatedResponse(id=article_id, related=[RelatedItem.of(h) for h in hits], **counted)
    return answer.model_dump_json(exclude_unset=True).encode()


def result_json(article_id: str, result: RelatedResult) -> bytes:
    return related_json(article_id, result.items, result.withheld)


def slots_json(article_id: str, found: Slots) -> bytes:
    answer = SlotsResponse(
        id=article_id,
        previous=RelatedItem.of(found.previous) if found.previous else None,
        next=RelatedItem.of(found.next) if found.next else None,
    )
    return answer.model_dump_json(exclude_unset=True).encode()
