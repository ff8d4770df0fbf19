"""Whole-article similarity: lexical weighting, fusion of the two sides, neighbourhoods.

Issue 14 asks which choices of the lexical side (n-grams, document-frequency cut-offs, stop
words, title weight, BM25-style saturation), of the fusion with the dense side (the shipped
length-dependent weight, fixed weights, per-query normalisation, reciprocal rank fusion) and
of neighbourhood re-ranking (shared nearest neighbours) hold on every kind of corpus. As in
`eval.studies.relevance_study`, every pair of articles is scored exhaustively, so the
comparison is of the scoring alone; nDCG@10 against "same story", paired t-test against the
shipped scoring.

    python -m eval.studies.fusion_study /tmp/corpora/seeds-wikinews.jsonl \
        /tmp/corpora/wcep-pairs.jsonl /tmp/corpora/wcep-digests.jsonl \
        --wcep-index /tmp/shared-idx/wcep --wcep-since 2018-01-01 [--vectors-dir /tmp/relstudy]

`--wcep-index` reads WCEP items and their stored MiniLM vectors from an index's SQLite store
(read-only) instead of encoding them again.
`--document-frequency` measures the lexical side's document-frequency cut-off
(`NEWSREC_LEXICAL_MAX_DF`) with the product's own hashed terms, in the shipped ranking with
its neighbour bonus.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
from scipy.stats import ttest_rel

from eval.studies.fusion_corpus import Corpus, corpus_parser, named_corpora, ndcg
from eval.studies.fusion_scoring import (
    fusion_variants,
    lexical_variants,
    pool_neighbours,
    shared_neighbours,
    tfidf_rows,
    view_neighbours,
)
from eval.studies.relevance_study import article_text
from recommender import Settings
from recommender.index.lexical import inverse_document_frequency, term_vectors, weighted_rows
from recommender.ranking.scoring import Ranking


def query_cosines(rows: sparse.csr_matrix, queries: np.ndarray) -> np.ndarray:
    """(queries, n) cosines of each query's unit row with every row."""
    return np.asarray((rows[queries] @ rows.T).toarray(), dtype=np.float32)


def comparison_line(label: str, base: np.ndarray, other: np.ndarray) -> str:
    """`other`'s mean nDCG against `base`'s: difference, paired t-test, wins/losses."""
    if np.allclose(base, other):
        return f"  {label:40s} {other.mean():.4f}  (same as shipped)"
    test = ttest_rel(other, base)
    return (
        f"  {label:40s} {other.mean():.4f}  {other.mean() - base.mean():+.4f}  p={test.pvalue:.2g}"
        f"  wins/losses {(other > base).sum()}/{(other < base).sum()}"
    )


def _sides(corpus: Corpus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct terms per article, and the (n, n) dense and TF-IDF cosines of every pair."""
    shipped = tfidf_rows([article_text(row) for row in corpus.rows])
    dense_all = (corpus.vectors @ corpus.vectors.T).astype(np.float32)
    return np.diff(shipped.indptr), dense_all, query_cosines(shipped, np.arange(len(corpus.rows)))


def view_rows(corpus: Corpus) -> list[str]:
    """Neighbour sets from the blend (shipped) against sets from each side separately."""
    queries = corpus.queries
    lengths, dense_all, lexical_all = _sides(corpus)
    ranking = Ranking()
    weights = np.asarray([ranking.dense_weight_for(int(n)) for n in lengths])[:, None]
    full = weights * dense_all + (1 - weights) * lexical_all
    np.fill_diagonal(full, -np.inf)
    k, weight = ranking.neighbour_count, ranking.neighbour_weight
    base = ndcg(view_neighbours(full, [full], queries, k, weight), corpus)
    lines = [
        f"{corpus.name}: where the neighbour sets come from",
        f"  blend (shipped) {base.mean():.4f}",
    ]
    for label, views, scale in (
        ("dense and lexical sides", [dense_all, lexical_all], 1.0),
        ("blend, dense and lexical", [full, dense_all, lexical_all], 1.0),
        ("dense and lexical, weight x1.5", [dense_all, lexical_all], 1.5),
    ):
        found = ndcg(view_neighbours(full, views, queries, k, weight * scale), corpus)
        lines.append(comparison_line(label, base, found))
    return lines


NEIGHBOUR_GRID = ((5, 0.05), (5, 0.1), (10, 0.05), (10, 0.1), (10, 0.2), (20, 0.1))
POOL_GRID = ((50, 7, 0.1), (50, 7, 0.15), (50, 7, 0.2), (50, 10, 0.15), (200, 7, 0.1))


def study(corpus: Corpus, *, neighbours_only: bool = False) -> list[str]:
    queries = corpus.queries
    lines = [f"{corpus.name}: {len(corpus.rows)} articles, {len(queries)} queries"]
    texts = [article_text(row) for row in corpus.rows]
    shipped = tfidf_rows(texts)
    lengths = np.diff(shipped.indptr)[queries]
    dense_all = (corpus.vectors @ corpus.vectors.T).astype(np.float32)
    dense = dense_all[queries]
    lexical = query_cosines(shipped, queries)
    fused = fusion_variants(dense, lexical, lengths, queries)
    base = ndcg(fused["shipped length-dependent weight"], corpus)
    if not neighbours_only:
        lines += _side_rows(corpus, dense, lexical, lengths, fused, base)
    lines.append(" shared neighbours on the shipped blend:")
    everything = np.arange(len(corpus.rows))
    all_lengths = np.diff(shipped.indptr)
    weight_all = np.asarray([Ranking().dense_weight_for(int(n)) for n in all_lengths])[:, None]
    full = weight_all * dense_all + (1 - weight_all) * query_cosines(shipped, everything)
    np.fill_diagonal(full, -np.inf)
    parts_grid = (
        ()
        if neighbours_only
        else (("both", NEIGHBOUR_GRID), ("overlap", NEIGHBOUR_GRID), ("reciprocal", NEIGHBOUR_GRID))
    )
    if neighbours_only:
        for pool, k, weight in POOL_GRID:
            scores = pool_neighbours(full, queries, k, weight, pool)
            label = f"within pool {pool}, k={k}, weight {weight}"
            lines.append(comparison_line(label, base, ndcg(scores, corpus)))
    for parts, grid in parts_grid:
        for k, weight in grid:
            scores = shared_neighbours(full, queries, k, weight, parts)
            lines.append(
                comparison_line(f"{parts}, k={k}, weight {weight}", base, ndcg(scores, corpus))
            )
    return lines


def long_weight_rows(corpus: Corpus) -> list[str]:
    """The length-dependent dense weight's long end, each with the shipped neighbour bonus."""
    queries = corpus.queries
    lengths, dense_all, lexical_all = _sides(corpus)
    default = Ranking()
    lines = [f"{corpus.name}: dense weight for long texts, with the neighbour bonus"]
    base: np.ndarray | None = None
    for long_weight, long_terms in ((0.1, 128), (0.2, 128), (0.3, 128), (0.1, 512), (0.2, 512)):
        ranking = Ranking(dense_weight_long=long_weight, long_text_terms=long_terms)
        weights = np.asarray([ranking.dense_weight_for(int(n)) for n in lengths])[:, None]
        full = weights * dense_all + (1 - weights) * lexical_all
        np.fill_diagonal(full, -np.inf)
        found = ndcg(
            pool_neighbours(full, queries, default.neighbour_count, default.neighbour_weight, 200),
            corpus,
        )
        label = f"long weight {long_weight} from {long_terms} terms"
        if base is None:
            base = found
            lines.append(f"  {label:40s} {found.mean():.4f}  (shipped)")
        else:
            lines.append(comparison_line(label, base, found))
    return lines


DOCUMENT_FREQUENCY_GRID = ((0.02, 100), (0.03, 100), (0.05, 100), (0.05, 200), (0.1, 100))


def _product_blend(corpus: Corpus, rows: sparse.csr_matrix, lengths: np.ndarray) -> np.ndarray:
    """Every pair scored as the shipped ranking scores it, with the lexical side `rows`:
    the length-dependent blend plus the pool's shared-neighbour bonus, (queries, n)."""
    ranking = Ranking()
    weights = np.asarray([ranking.dense_weight_for(int(n)) for n in lengths])[:, None]
    dense_all = (corpus.vectors @ corpus.vectors.T).astype(np.float32)
    full = weights * dense_all + (1 - weights) * query_cosines(rows, np.arange(len(corpus.rows)))
    np.fill_diagonal(full, -np.inf)
    return pool_neighbours(
        full, corpus.queries, ranking.neighbour_count, ranking.neighbour_weight, 50
    )


def document_frequency_rows(corpus: Corpus) -> list[str]:
    """The product's own lexical side (hashed terms, `lexical.inverse_document_frequency`)
    with a document-frequency cut-off, in the shipped ranking with its neighbour bonus.

    The cut-off drops terms from an article's vector, so its count of distinct terms (which
    sets the dense weight) falls too; "lengths kept" counts the terms before the cut."""
    frequencies = term_vectors([article_text(row) for row in corpus.rows])
    document_frequency = np.bincount(frequencies.indices, minlength=frequencies.shape[1])
    documents = len(corpus.rows)
    shipped = weighted_rows(frequencies, inverse_document_frequency(document_frequency, documents))
    all_lengths = np.diff(shipped.indptr)
    base = ndcg(_product_blend(corpus, shipped, all_lengths), corpus)
    lines = [
        f"{corpus.name}: document-frequency cut-off, shipped ranking with the bonus",
        f"  {'no cut-off (shipped)':40s} {base.mean():.4f}",
    ]
    for max_df, floor in DOCUMENT_FREQUENCY_GRID:
        idf = inverse_document_frequency(document_frequency, documents, max_df, floor)
        rows = weighted_rows(frequencies, idf)
        label = f"max_df {max_df}, at least {floor} articles"
        found = ndcg(_product_blend(corpus, rows, np.diff(rows.indptr)), corpus)
        lines.append(comparison_line(label, base, found))
        if (max_df, floor) == (0.05, 100):
            kept = ndcg(_product_blend(corpus, rows, all_lengths), corpus)
            lines.append(comparison_line(f"{label}, lengths kept", base, kept))
    return lines


def _side_rows(
    corpus: Corpus,
    dense: np.ndarray,
    lexical: np.ndarray,
    lengths: np.ndarray,
    fused: dict[str, np.ndarray],
    base: np.ndarray,
) -> list[str]:
    queries = corpus.queries
    lines = [" lexical side alone, then in the shipped blend:"]
    lexical_alone = ndcg(lexical, corpus)
    for name, build in lexical_variants(corpus).items():
        rows = build()
        alone = query_cosines(rows, queries)
        weight = np.asarray([Ranking().dense_weight_for(int(n)) for n in lengths])[:, None]
        lines.append(comparison_line(f"{name} alone", lexical_alone, ndcg(alone, corpus)))
        lines.append(
            comparison_line(
                f"{name} blended", base, ndcg(weight * dense + (1 - weight) * alone, corpus)
            )
        )
    lines.append(" fusion (shipped lexical side):")
    for name, scores in fused.items():
        lines.append(comparison_line(name, base, ndcg(scores, corpus)))
    return lines


def main() -> None:
    parser = corpus_parser(__doc__.splitlines()[0], wcep_since="2018-01-01")
    parser.add_argument("--neighbours-only", action="store_true", help="a finer neighbour grid")
    parser.add_argument("--long-weights", action="store_true", help="the long-text dense weight")
    parser.add_argument("--views", action="store_true", help="neighbour sets from each side")
    parser.add_argument(
        "--document-frequency", action="store_true", help="the lexical document-frequency cut-off"
    )
    arguments = parser.parse_args()
    corpora = named_corpora(arguments, Settings())
    if arguments.views:
        for corpus in corpora:
            print("\n".join(view_rows(corpus)), flush=True)
        return
    if arguments.document_frequency:
        for corpus in corpora:
            print("\n".join(document_frequency_rows(corpus)), flush=True)
        return
    if arguments.long_weights:
        for corpus in corpora:
            print("\n".join(long_weight_rows(corpus)), flush=True)
        return
    for corpus in corpora:
        print("\n".join(study(corpus, neighbours_only=arguments.neighbours_only)), flush=True)


if __name__ == "__main__":
    main()
