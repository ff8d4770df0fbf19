"""Same-story relevance with near-duplicates collapsed: a second copy tells a reader nothing.

Plain same-story qrels count every copy of a republished text as relevant, so a system that
shows one copy (newsrec does, by design) scores below one that shows them all. This view
judges as a reader would: within a story, near-duplicate texts (MinHash estimated shingle
Jaccard >= threshold, joined transitively) form one cluster that counts once; a copy of the
query is not relevant; in a ranked list the first member of a cluster takes the credit and
later copies count as non-relevant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from eval.quality.datasets import LabelledCorpus, Qrels
from eval.quality.systems import Ranked
from recommender.index.fingerprint import estimated_similarity

_COPY = "\x00copy"  # prefix of placeholder ids: never an article id, never relevant


class CollapsedJudgements:
    """qrels and run rewriting for the collapsed view.

    signatures: (n, SIGNATURE_SIZE) MinHash signatures in corpus order.
    """

    def __init__(self, corpus: LabelledCorpus, signatures: np.ndarray, threshold: float) -> None:
        self.corpus = corpus
        self.cluster = _clusters(corpus, signatures, threshold)  # id -> its cluster's first id
        self.qrels: Qrels = {}
        for query_id, relevant in corpus.qrels.items():
            own = self.cluster[query_id]
            kept = {self.cluster[other] for other in relevant} - {own}
            self.qrels[query_id] = {representative: 1 for representative in sorted(kept)}

    def run(self, rankings: Mapping[str, Ranked]) -> dict[str, Ranked]:
        """Each list with same-story items replaced by their cluster, and repeats voided."""
        rewritten: dict[str, Ranked] = {}
        for query_id, ranked in rankings.items():
            relevant = self.corpus.qrels.get(query_id, {})
            seen = {self.cluster.get(query_id, query_id)}
            items: Ranked = []
            for position, (article_id, score) in enumerate(ranked):
                if article_id not in relevant:
                    items.append((article_id, score))
                    continue
                representative = self.cluster[article_id]
                if representative in seen:
                    items.append((f"{_COPY}:{position}", score))
                else:
                    seen.add(representative)
                    items.append((representative, score))
            rewritten[query_id] = items
        return rewritten


def _clusters(corpus: LabelledCorpus, signatures: np.ndarray, threshold: float) -> dict[str, str]:
    """For every article of a story with >= 2 members: the id of its cluster's first member."""
    members: dict[str, list[int]] = defaultdict(list)
    for position, article in enumerate(corpus.articles):
        if article.story is not None:
            members[article.story].append(position)
    cluster: dict[str, str] = {}
    for positions in members.values():
        if len(positions) < 2:
            continue
        parent = list(range(len(positions)))

        def root(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        story_signatures = signatures[positions]
        for i in range(len(positions) - 1):
            similar = estimated_similarity(story_signatures[i], story_signatures[i + 1 :])
            for j in np.flatnonzero(similar >= threshold) + i + 1:
                a, b = root(i), root(int(j))
                parent[max(a, b)] = min(a, b)
        for i, position in enumerate(positions):
            # A root is always the smallest index of its set: the cluster's first member.
            cluster[corpus.articles[position].id] = corpus.articles[positions[root(i)]].id
    return cluster
