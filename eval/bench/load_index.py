"""The load test's index: WCEP topped up with synthetic stories, its vectors precomputed.

`python -m eval.bench.load_test build DIR` calls `build` (see that module's docstring for
why the vectors are precomputed rather than encoded).
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recommender import Settings

_BUILD_SLICE = 50_000
_WORD = re.compile(r"[A-Za-z]{3,}")


def build(
    index_dir: Path,
    total: int,
    wcep: Path,
    seed: int,
    vectors: str = "minilm",
    *,
    base: Settings,
    stored_lists: bool = True,
) -> float:
    """Index WCEP + synthetic articles up to `total` and (`stored_lists`) rank every
    article's related list ahead; returns the seconds the indexing took."""
    # Imported here so `run` does not pay for the core's imports in the client process.
    from recommender import build_recommender, open_index
    from recommender.ranking.list_refresh import owners_to_rank, store_lists_of

    articles = corpus(total, wcep, seed)
    embedder_name = "hashing" if vectors == "hashing" else "minilm"
    settings = base.model_copy(update={"index_dir": index_dir, "embedder": embedder_name})
    embedder = None if vectors == "hashing" else _cached_embedder(articles, wcep, seed)
    started = time.perf_counter()
    added = updated = unchanged = 0
    with open_index(settings, writable=True, embedder=embedder) as index:
        # Slices bound the memory of term vectors and fingerprints computed per upsert.
        for start in range(0, len(articles), _BUILD_SLICE):
            report = index.upsert(articles[start : start + _BUILD_SLICE])
            added, updated = added + report.added, updated + report.updated
            unchanged += report.unchanged
            written = min(start + _BUILD_SLICE, len(articles))
            elapsed = time.perf_counter() - started
            print(f"  {written:>9,} written, {elapsed:.0f} s", flush=True)
        index.save()
        count = len(index)
        kind = index.info().index_type
        seconds = time.perf_counter() - started
        print(
            f"{count:,} articles in {index_dir} ({added:,} added, {updated:,} updated,"
            f" {unchanged:,} unchanged; {kind} vectors) in {seconds:.0f} s"
        )
        if not stored_lists:
            return seconds
        ranking_started = time.perf_counter()
        recommender = build_recommender(settings, index)
        stored = store_lists_of(recommender, owners_to_rank(recommender))
        ranking = time.perf_counter() - ranking_started
        print(f"{stored:,} related lists ranked and stored in {ranking:.0f} s")
    return seconds


def _cached_embedder(articles: list[Any], wcep: Path, seed: int) -> Any:
    """Real MiniLM vectors for WCEP's texts, story-clustered ones for synthetic texts."""
    import numpy as np

    from embeddings import MiniLMEmbedder
    from eval.bench.vectors import CachedEmbedder, story_vectors, wcep_vectors

    known: dict[str, Any] = {}
    real = [article for article in articles if article.source != "synthetic"]
    if real:
        known.update(zip((a.text for a in real), wcep_vectors(wcep)[: len(real)], strict=True))
    synthetic = [article for article in articles if article.source == "synthetic"]
    stories = np.asarray([int(a.story.rsplit("-", 1)[1]) for a in synthetic], dtype=np.int64)
    vectors = story_vectors(stories, seed=seed)
    known.update(zip((a.text for a in synthetic), vectors, strict=True))
    return CachedEmbedder(known, MiniLMEmbedder())


def corpus(total: int, wcep: Path, seed: int) -> list[Any]:
    """WCEP's articles (up to `total`), then synthetic stories up to `total` articles."""
    from recommender import Article, load_articles

    articles: list[Article] = []
    if wcep.is_file():
        articles = load_articles([wcep]).articles[:total]
    vocabulary = sorted({w.lower() for a in articles[:20_000] for w in _WORD.findall(a.title)})
    if not vocabulary:
        vocabulary = [f"word{i}" for i in range(5_000)]
    random_state = random.Random(seed)
    start = time.mktime((2002, 1, 1, 0, 0, 0, 0, 0, 0))
    for number in range(total - len(articles)):
        # A synthetic story: words from a small per-story pool, so stories have neighbours.
        story = random_state.randrange(max(1, (total - len(articles)) // 8))
        pool = random.Random(story).sample(vocabulary, 40)
        words = random_state.choices(pool, k=random_state.randint(60, 160))
        moment = time.gmtime(start + random_state.randrange(19 * 365 * 86_400))
        articles.append(
            Article(
                id=f"synthetic-{number:06d}",
                title=" ".join(words[:10]).capitalize(),
                body=" ".join(words[10:]),
                published=time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
                source="synthetic",
                story=f"synthetic-story-{story}",
            )
        )
    return articles
