"""In-memory per-article arrays the ranking filters on: publication times and fingerprints.

Kept in step with the store by `ArticleIndex`; positions follow ascending row ids.
"""

from __future__ import annotations

import numpy as np

from recommender.dates import PublishedTime
from recommender.index.fingerprint import SIGNATURE_SIZE, estimated_similarity
from recommender.index.records import CatalogRows
from recommender.index.vectors.faiss_index import bitmap_of
from recommender.index.vectors.protocol import PayloadConditions, RowSelection

_MAX_TOPICS = 64


class Catalog:
    def __init__(self, rows: CatalogRows) -> None:
        self.row_ids = rows.row_ids
        self.starts = rows.starts
        self.ends = rows.ends
        self.fingerprints = rows.fingerprints
        # Topic labels as bits of one integer per article, so a topic filter is one mask.
        self.topic_bits: dict[str, int] = {}
        self.topic_masks = self._topic_masks(rows.topics)

    @classmethod
    def empty(cls) -> Catalog:
        nothing = np.zeros(0, dtype=np.float64)
        return cls(
            CatalogRows(
                np.zeros(0, dtype=np.int64),
                nothing,
                nothing.copy(),
                np.zeros((0, SIGNATURE_SIZE), dtype=np.uint32),
                [],
            )
        )

    def __len__(self) -> int:
        return len(self.row_ids)

    def position(self, row_id: int) -> int:
        position = int(np.searchsorted(self.row_ids, row_id))
        if position >= len(self.row_ids) or self.row_ids[position] != row_id:
            raise KeyError(row_id)
        return position

    def published(self, row_id: int) -> PublishedTime | None:
        position = self.position(row_id)
        start = self.starts[position]
        return None if np.isnan(start) else PublishedTime(float(start), float(self.ends[position]))

    def fingerprint(self, row_id: int) -> np.ndarray:
        return self.fingerprints[self.position(row_id)]

    def duplicates(
        self, fingerprint: np.ndarray, row_ids: np.ndarray, threshold: float
    ) -> np.ndarray:
        """Which of `row_ids` are near-duplicates of `fingerprint`: (m,) bool."""
        positions = np.searchsorted(self.row_ids, row_ids)
        return estimated_similarity(fingerprint, self.fingerprints[positions]) >= threshold

    def upsert_many(
        self,
        row_ids: np.ndarray,
        published: list[PublishedTime | None],
        fingerprints: np.ndarray,
        topics: list[tuple[str, ...]],
    ) -> None:
        """Insert or replace rows. row_ids: (m,) unique; fingerprints: (m, SIGNATURE_SIZE)."""
        masks = self._topic_masks(topics)
        starts = np.asarray([p.start if p else np.nan for p in published], dtype=np.float64)
        ends = np.asarray([p.end if p else np.nan for p in published], dtype=np.float64)
        keep = ~np.isin(self.row_ids, row_ids)
        merged_ids = np.concatenate([self.row_ids[keep], row_ids])
        order = np.argsort(merged_ids, kind="stable")
        self.row_ids = merged_ids[order]
        self.starts = np.concatenate([self.starts[keep], starts])[order]
        self.ends = np.concatenate([self.ends[keep], ends])[order]
        self.fingerprints = np.concatenate([self.fingerprints[keep], fingerprints])[order]
        self.topic_masks = np.concatenate([self.topic_masks[keep], masks])[order]

    def set_topics(self, row_ids: np.ndarray, topics: list[tuple[str, ...]]) -> None:
        positions = np.searchsorted(self.row_ids, row_ids)
        self.topic_masks[positions] = self._topic_masks(topics)

    def remove(self, row_ids: np.ndarray) -> None:
        keep = ~np.isin(self.row_ids, row_ids)
        self.row_ids = self.row_ids[keep]
        self.starts = self.starts[keep]
        self.ends = self.ends[keep]
        self.fingerprints = self.fingerprints[keep]
        self.topic_masks = self.topic_masks[keep]

    # -- masks over positions, for filtered search -------------------------------------------

    def dated_between(self, since: float | None, until: float | None) -> np.ndarray:
        """Articles whose publication starts within [since, until]; undated ones never match."""
        mask = ~np.isnan(self.starts)
        if since is not None:
            mask &= self.starts >= since
        if until is not None:
            mask &= self.starts <= until
        return mask

    def before(self, moment: PublishedTime) -> np.ndarray:
        """Strictly earlier than `moment` (see `PublishedTime.before`)."""
        is_day = self.ends > self.starts
        with np.errstate(invalid="ignore"):
            return np.where(is_day, self.ends <= moment.start, self.starts < moment.start)

    def after(self, moment: PublishedTime) -> np.ndarray:
        """Strictly later than `moment`."""
        with np.errstate(invalid="ignore"):
            if moment.is_day:
                return self.starts >= moment.end
            return self.starts > moment.start

    def with_topic(self, label: str) -> np.ndarray:
        """Articles tagged `label`; raises KeyError for a label no article carries."""
        return (self.topic_masks & np.uint64(1 << self.topic_bits[label])) != 0

    def _topic_masks(self, topics: list[tuple[str, ...]]) -> np.ndarray:
        masks = np.zeros(len(topics), dtype=np.uint64)
        for position, labels in enumerate(topics):
            for label in labels:
                if label not in self.topic_bits:
                    if len(self.topic_bits) == _MAX_TOPICS:
                        continue  # beyond 64 labels a topic cannot be filtered on
                    self.topic_bits[label] = len(self.topic_bits)
                masks[position] |= np.uint64(1 << self.topic_bits[label])
        return masks

    def bitmap(self, mask: np.ndarray) -> np.ndarray:
        return bitmap_of(self.row_ids[mask])

    def selection(self, mask: np.ndarray, conditions: PayloadConditions) -> RowSelection:
        """The rows of `mask`, with `conditions` saying the same on the payload (Qdrant)."""
        return RowSelection(self.bitmap(mask), conditions)
