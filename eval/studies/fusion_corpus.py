"""The corpora the fusion studies score (assembled JSONL files with their cached MiniLM
vectors, or WCEP items with the vectors an index stored), the command-line arguments that
name them, and nDCG@10 of a score matrix against their stories."""

from __future__ import annotations

import argparse
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.quality.assembled_corpora import read_jsonl
from eval.studies.relevance_study import cached_vectors
from recommender import Settings

Row = dict[str, object]
DISCOUNTS = 1.0 / np.log2(np.arange(2, 12))


@dataclass
class Corpus:
    name: str
    rows: list[Row]
    vectors: np.ndarray  # (n, d) unit rows
    relevant: dict[int, set[int]]

    @property
    def queries(self) -> np.ndarray:
        return np.asarray(sorted(self.relevant))


def _relevant(rows: list[Row]) -> dict[int, set[int]]:
    members: dict[str, set[int]] = defaultdict(set)
    for position, row in enumerate(rows):
        if row.get("story"):
            members[str(row["story"])].add(position)
    return {
        position: members[str(row["story"])] - {position}
        for position, row in enumerate(rows)
        if row.get("story") and len(members[str(row["story"])]) > 1
    }


def jsonl_corpus(path: Path, vectors_dir: Path, settings: Settings) -> Corpus:
    rows = list(read_jsonl(path))
    return Corpus(
        path.stem, rows, cached_vectors(path, rows, vectors_dir, settings), _relevant(rows)
    )


def wcep_corpus(index_dir: Path, since: str) -> Corpus:
    """WCEP items published on or after `since`, with the vectors the index stored."""
    connection = sqlite3.connect(f"file:{index_dir / 'newsrec-store.sqlite'}?mode=ro", uri=True)
    query = (
        "SELECT a.id, a.title, a.body, a.published, a.story, v.vector FROM articles a "
        "JOIN vectors v ON v.content_hash = a.content_hash WHERE a.published >= ? ORDER BY a.row_id"
    )
    rows, vectors = [], []
    for identifier, title, body, published, story, blob in connection.execute(query, (since,)):
        rows.append(
            {"id": identifier, "title": title, "body": body, "published": published, "story": story}
        )
        vectors.append(np.frombuffer(blob, dtype=np.float32))
    connection.close()
    return Corpus(f"wcep-since-{since}", rows, np.vstack(vectors), _relevant(rows))


def corpus_parser(description: str, wcep_since: str) -> argparse.ArgumentParser:
    """The arguments every fusion study takes: JSONL corpora, the folder of their cached
    vectors and a WCEP index to read items from; each study adds its own modes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("corpora", type=Path, nargs="*")
    parser.add_argument("--vectors-dir", type=Path, default=Path("/tmp/relstudy"))
    parser.add_argument("--wcep-index", type=Path)
    parser.add_argument("--wcep-since", default=wcep_since)
    return parser


def named_corpora(arguments: argparse.Namespace, settings: Settings) -> list[Corpus]:
    """The corpora `corpus_parser`'s arguments name, the WCEP slice (if any) last."""
    corpora = [jsonl_corpus(path, arguments.vectors_dir, settings) for path in arguments.corpora]
    if arguments.wcep_index:
        corpora.append(wcep_corpus(arguments.wcep_index, arguments.wcep_since))
    return corpora


def ndcg(scores: np.ndarray, corpus: Corpus) -> np.ndarray:
    """Binary nDCG@10 of every query; `scores` is (queries, n) in query order."""
    found = np.empty(len(corpus.queries))
    for row_number, query in enumerate(corpus.queries):
        row = scores[row_number].copy()
        row[query] = -np.inf
        top = np.argpartition(-row, 10)[:10]
        top = top[np.argsort(-row[top], kind="stable")]
        relevant = corpus.relevant[int(query)]
        gains = np.fromiter((position in relevant for position in top), float, count=len(top))
        found[row_number] = (
            gains @ DISCOUNTS[: len(top)] / DISCOUNTS[: min(len(relevant), 10)].sum()
        )
    return found
