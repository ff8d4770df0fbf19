"""One loaded version of the index as the service holds it (`Snapshot`): what a request
reads, under its own readers-writer lock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from recommender import ArticleIndex, Recommender
from service.http.rwlock import ReadersWriterLock
from service.http.titles import TitleCatalog

_serials = itertools.count(1)


@dataclass(eq=False)
class Snapshot:
    """One loaded version of the index and everything derived from it."""

    index: ArticleIndex
    recommender: Recommender
    titles: TitleCatalog
    generation: int  # the store's generation this snapshot shows
    # The manifest's (generation, related lists version) when it was loaded.
    published: tuple[int, int] | None
    lock: ReadersWriterLock = field(default_factory=ReadersWriterLock)
    version: int = 0  # bumped by every write in this process: keys the response cache
    serial: int = field(default_factory=lambda: next(_serials))
    closed: bool = False
