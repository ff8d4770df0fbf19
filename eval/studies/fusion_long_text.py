"""Where the shipped default stands against plain TF-IDF on full-length news (issue 14).

On real full-length news (the hand-labelled Wikinews corpus) the default ranking is level
with plain TF-IDF. This study takes the default apart, on every corpus side by side, with the
product's own lexical side (hashed terms, `recommender.index.lexical`) and exhaustive scoring:

- `parts`: the default (length-dependent blend plus the shared-neighbour bonus) against
  each of its parts alone and against nearby settings (bonus weight and k, the long-text
  dense weight, a bonus in proportion to the pool's best score or capped by it), nDCG@10
  with a paired t-test against the default;
- `parity`: is the product's lexical side the TF-IDF baseline's (scikit-learn's vocabulary
  against hashed terms), and does the candidate pool (200 by dense cosine, 200 from the
  posting lists of the query's 25 strongest terms) hold what exhaustive scoring ranks?
- `by-story`: where the default's error is, the default and the TF-IDF baseline by gold
  story (`--story-group TEXT` sums the stories whose name holds TEXT).

    python -m eval.studies.fusion_long_text /tmp/corpora/wikinews-labelled.jsonl \\
        seeds/articles.jsonl /tmp/corpora/seeds-wikinews.jsonl [--wcep-index DIR] \\
        [--parity | --by-story [--story-group TEXT]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
from scipy.stats import ttest_rel

from eval.studies.fusion_corpus import Corpus, corpus_parser, named_corpora, ndcg
from eval.studies.fusion_scoring import pool_neighbours, tfidf_rows
from eval.studies.fusion_study import comparison_line, query_cosines
from eval.studies.relevance_study import article_text
from recommender import Settings
from recommender.index.lexical import (
    LexicalIndex,
    inverse_document_frequency,
    term_vectors,
    weighted_rows,
)
from recommender.ranking.scoring import Ranking


def _product_lexical(corpus: Corpus) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Term frequencies and unit TF-IDF rows as the product computes them (no cut-off)."""
    frequencies = term_vectors([article_text(row) for row in corpus.rows])
    document_frequency = np.bincount(frequencies.indices, minlength=frequencies.shape[1])
    idf = inverse_document_frequency(document_frequency, len(corpus.rows))
    return frequencies, weighted_rows(frequencies, idf)


def _blend(
    corpus: Corpus, lexical_all: np.ndarray, lengths: np.ndarray, ranking: Ranking
) -> np.ndarray:
    """(n, n) blended scores of every pair, row i weighted by its own length; self at -inf."""
    weights = np.asarray([ranking.dense_weight_for(int(n)) for n in lengths])[:, None]
    dense_all = corpus.vectors @ corpus.vectors.T
    full = (weights * dense_all + (1 - weights) * lexical_all).astype(np.float64)
    np.fill_diagonal(full, -np.inf)
    return full


def _default_scores(corpus: Corpus, rows: sparse.csr_matrix) -> np.ndarray:
    """(queries, n) scores of the shipped default, with the product's TF-IDF `rows`."""
    ranking = Ranking()
    lexical_all = query_cosines(rows, np.arange(len(corpus.rows)))
    full = _blend(corpus, lexical_all, np.diff(rows.indptr), ranking)
    return pool_neighbours(
        full,
        corpus.queries,
        ranking.neighbour_count,
        ranking.neighbour_weight,
        ranking.neighbour_pool,
    )


def part_rows(corpus: Corpus) -> list[str]:
    """The default against its parts and nearby settings (exhaustive scoring)."""
    queries = corpus.queries
    _, rows = _product_lexical(corpus)
    lengths = np.diff(rows.indptr)
    lexical_all = query_cosines(rows, np.arange(len(corpus.rows)))
    default = Ranking()
    k, weight, pool = default.neighbour_count, default.neighbour_weight, default.neighbour_pool
    full = _blend(corpus, lexical_all, lengths, default)
    base = ndcg(pool_neighbours(full, queries, k, weight, pool), corpus)
    lines = [
        f"{corpus.name}: {len(corpus.rows)} articles, {len(queries)} queries",
        f"  {'default (blend + shared neighbours)':40s} {base.mean():.4f}",
    ]
    sklearn = tfidf_rows([article_text(row) for row in corpus.rows])
    alone = {
        "TF-IDF alone (scikit-learn, the baseline)": query_cosines(sklearn, queries),
        "TF-IDF alone (the product's hashed terms)": lexical_all[queries],
        "dense alone": corpus.vectors[queries] @ corpus.vectors.T,
        "blend without the bonus": full[queries],
    }
    for label, scores in alone.items():
        lines.append(comparison_line(label, base, ndcg(scores, corpus)))
    for label, bonus_k, bonus_weight in (
        ("bonus weight 0.1", k, 0.1),
        ("bonus weight 0.15", k, 0.15),
        ("bonus k = 5", 5, weight),
        ("bonus k = 6", 6, weight),
    ):
        found = pool_neighbours(full, queries, bonus_k, bonus_weight, pool)
        lines.append(comparison_line(label, base, ndcg(found, corpus)))
    for long_weight in (0.0, 0.05, 0.2):
        other = _blend(corpus, lexical_all, lengths, Ranking(dense_weight_long=long_weight))
        found = pool_neighbours(other, queries, k, weight, pool)
        lines.append(
            comparison_line(f"long-text dense weight {long_weight}", base, ndcg(found, corpus))
        )
    for share in (0.45, 0.5, 0.55):
        found = pool_neighbours(full, queries, k, 1.0, pool, best_share=share)
        label = f"bonus {share} x the pool's best score"
        lines.append(comparison_line(label, base, ndcg(found, corpus)))
    for share in (0.4, 0.5, 0.6):
        found = pool_neighbours(full, queries, k, weight, pool, best_share=share)
        label = f"bonus {weight}, at most {share} x the best"
        lines.append(comparison_line(label, base, ndcg(found, corpus)))
    return lines


def parity_rows(corpus: Corpus) -> list[str]:
    """The product's lexical side against scikit-learn's, and the candidate pool's reach."""
    queries = corpus.queries
    frequencies, rows = _product_lexical(corpus)
    sklearn = tfidf_rows([article_text(row) for row in corpus.rows])
    product_scores, sklearn_scores = query_cosines(rows, queries), query_cosines(sklearn, queries)
    product_alone, sklearn_alone = ndcg(product_scores, corpus), ndcg(sklearn_scores, corpus)
    same = np.allclose(product_alone, sklearn_alone)
    pvalue = 1.0 if same else float(ttest_rel(product_alone, sklearn_alone).pvalue)
    ranking = Ranking()
    lengths = np.diff(rows.indptr)
    default = _default_scores(corpus, rows)
    index = LexicalIndex(np.arange(len(corpus.rows)), frequencies)
    depth = ranking.pool_depth
    relevant_in_pool, top_in_pool, lexical_top_found = [], [], []
    for row_number, query in enumerate(queries):
        dense = corpus.vectors @ corpus.vectors[query]
        dense[query] = -np.inf
        dense_ids = np.argsort(-dense, kind="stable")[:depth]
        lexical_ids = index.search(index.query_of(int(query)), depth + 1)[0]
        lexical_ids = lexical_ids[lexical_ids != query][:depth]
        pool = set(dense_ids.tolist()) | set(lexical_ids.tolist())
        pool.discard(int(query))
        relevant = corpus.relevant[int(query)]
        relevant_in_pool.append(len(relevant & pool) / len(relevant))
        scores = default[row_number].copy()
        scores[query] = -np.inf
        top_in_pool.append(np.mean([int(i) in pool for i in np.argsort(-scores)[:10]]))
        lexical = product_scores[row_number].copy()
        lexical[query] = -np.inf
        exact = set(np.argsort(-lexical)[:10].tolist())
        lexical_top_found.append(len(exact & set(lexical_ids[:10].tolist())) / 10)
    gap = np.abs(product_scores - sklearn_scores)
    gap[np.arange(len(queries)), queries] = 0.0
    return [
        f"{corpus.name}: {len(corpus.rows)} articles, {len(queries)} queries",
        f"  TF-IDF alone: scikit-learn {sklearn_alone.mean():.4f},"
        f" hashed {product_alone.mean():.4f} (p = {pvalue:.2g});"
        f" largest cosine difference {gap.max():.2g}",
        f"  distinct terms per article: scikit-learn {np.diff(sklearn.indptr).mean():.1f},"
        f" hashed {lengths.mean():.1f}",
        f"  in the pool of {depth} + {depth}: relevant {np.mean(relevant_in_pool):.4f},"
        f" the default's exhaustive top 10 {np.mean(top_in_pool):.4f}",
        f"  25-term posting-list search, its top 10 = exhaustive TF-IDF's top 10:"
        f" {np.mean(lexical_top_found):.4f}",
    ]


def by_story_rows(corpus: Corpus, group: str | None = None) -> list[str]:
    """The default's and TF-IDF's (the baseline's) nDCG@10 split by gold story, the story
    with the largest share of the default's error (1 - nDCG@10 summed over its queries)
    first; with `group`, a last line sums the stories whose name contains it."""
    queries = corpus.queries
    default = ndcg(_default_scores(corpus, _product_lexical(corpus)[1]), corpus)
    sklearn = tfidf_rows([article_text(row) for row in corpus.rows])
    tfidf = ndcg(query_cosines(sklearn, queries), corpus)
    stories = np.asarray([str(corpus.rows[int(query)]["story"]) for query in queries])
    error = 1.0 - default
    total_error = max(float(error.sum()), 1e-12)  # a perfect default has no error to share

    def line(label: str, members: np.ndarray) -> str:
        return (
            f"  {label[:44]:44s} {members.sum():7d} {default[members].mean():7.3f}"
            f" {tfidf[members].mean():7.3f} {error[members].sum() / total_error:6.1%}"
        )

    names = sorted(set(stories.tolist()))
    lines = [
        f"{corpus.name}: {len(queries)} queries, default {default.mean():.4f},"
        f" TF-IDF {tfidf.mean():.4f}; the default's error (1 - nDCG@10) {error.sum():.3f}",
        f"  {'story':44s} {'queries':>7s} {'default':>7s} {'TF-IDF':>7s} {'error':>6s}",
    ]
    for story in sorted(names, key=lambda name: -error[stories == name].sum()):
        lines.append(line(story, stories == story))
    if group is not None:
        chosen = [name for name in names if group in name]
        if chosen:
            label = f"the {len(chosen)} stories with '{group}' in their name"
            lines.append(line(label, np.isin(stories, chosen)))
        else:
            lines.append(f"  no story has '{group}' in its name")
    return lines


def main() -> None:
    parser = corpus_parser(__doc__.splitlines()[0], wcep_since="2019-06-01")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--parity", action="store_true", help="lexical side and pool reach")
    mode.add_argument(
        "--by-story", action="store_true", help="the default's and TF-IDF's nDCG@10 per story"
    )
    parser.add_argument(
        "--story-group", metavar="TEXT", help="with --by-story: sum the stories named *TEXT*"
    )
    arguments = parser.parse_args()
    if arguments.story_group is not None and not arguments.by_story:
        parser.error("--story-group is a part of --by-story's table: add --by-story")
    for corpus in named_corpora(arguments, Settings()):
        if arguments.parity:
            lines = parity_rows(corpus)
        elif arguments.by_story:
            lines = by_story_rows(corpus, arguments.story_group)
        else:
            lines = part_rows(corpus)
        print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
