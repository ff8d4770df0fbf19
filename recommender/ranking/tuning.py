"""Learn the ranking's weights from a site's own labels, cross-validated (`newsrec tune`).

Labels are story ids (`{"id": ..., "story": ...}`: articles of one story are related) or
editor-chosen links (`{"id": ..., "related": [ids]}`). For every labelled query the
candidate pool the ranking scores (dense and lexical candidates) is gathered once with its
dense cosines, TF-IDF cosines and days apart; each weight setting of the grid then ranks
the pool with numpy alone, so a grid of ~600 settings costs seconds, not a ranking each.
The shared-neighbour bonus (`neighbourhood.py`) needs the pairwise scores of the query's
best candidates: the dense and TF-IDF cosines of every candidate that any setting ranks
among its best `neighbour_pool` are computed once per query too, and each setting blends
them with its own weights, as the ranking does.

Folds group the queries of one story together (a story's articles would otherwise teach
the weights that find them again). On each fold the best setting on the other folds is
scored on it, beside the current ranking; the profile is written only when the held-out
gain is positive and significant (paired t-test), so tuning never ships a ranking that
merely fit the labels.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sparse

from recommender.dates import SECONDS_PER_DAY
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.ranking.neighbourhood import shared_neighbour_bonus
from recommender.ranking.profile import TUNED_FIELDS, RankingProfile
from recommender.ranking.scoring import Ranking

MIN_QUERIES = 10
SIGNIFICANCE = 0.05
DENSE_WEIGHTS = (0.3, 0.45, 0.6, 0.75, 0.9)
DENSE_WEIGHTS_LONG = (0.1, 0.25, 0.4, 0.55, 0.7)
TIME_SETTINGS = ((0.0, 180.0), (0.5, 30.0), (0.5, 180.0), (0.5, 730.0), (1.0, 30.0), (1.0, 180.0))
NEIGHBOUR_WEIGHTS = (0.0, 0.1, 0.2, 0.3)
_DISCOUNTS = 1.0 / np.log2(np.arange(2, 12))


@dataclass(frozen=True)
class Labels:
    """Relevant article ids per query id, and the group (story) each query belongs to."""

    relevant: dict[str, frozenset[str]]
    groups: dict[str, str]


@dataclass
class _Pool:
    terms: int  # distinct terms of the query (what the dense weight follows)
    dense: np.ndarray  # (m,) cosines
    lexical: np.ndarray  # (m,)
    days: np.ndarray  # (m,) days apart, nan when either is undated
    relevant: np.ndarray  # (m,) bool
    relevant_total: int
    row_ids: np.ndarray  # (m,) the candidates (ties are broken by row id, as the ranking does)
    pairs: _Pairs | None = None  # what the neighbour bonus reads; None: no setting has one


@dataclass
class _Pairs:
    """Pairwise cosines of the query (position 0) and the candidates any setting of the grid
    may take into its neighbour pool (u of them)."""

    local: np.ndarray  # (m,) each candidate's position in the matrices, -1 if never needed
    dense: np.ndarray  # (u + 1, u + 1)
    lexical: np.ndarray  # (u + 1, u + 1)
    terms: np.ndarray  # (u + 1,) distinct terms of each (the query first)


@dataclass(frozen=True)
class TuningResult:
    default: Ranking
    tuned: Ranking
    held_out_default: float  # mean nDCG@10 over the held-out queries
    held_out_tuned: float
    p_value: float
    wins: int
    losses: int
    queries: int
    folds: int
    skipped_labels: int

    @property
    def accepted(self) -> bool:
        gain = self.held_out_tuned - self.held_out_default
        return gain > 0.0 and self.p_value < SIGNIFICANCE

    def profile(self) -> RankingProfile:
        return RankingProfile(
            {name: float(getattr(self.tuned, name)) for name in TUNED_FIELDS},
            {
                "ndcg@10_default": round(self.held_out_default, 4),
                "ndcg@10_tuned": round(self.held_out_tuned, 4),
                "p_value": float(f"{self.p_value:.3g}"),
                "queries": self.queries,
                "folds": self.folds,
            },
        )


def read_labels(path: Path) -> Labels:
    """Story or related-links labels from a JSONL file (optionally .gz); other fields are
    ignored, so a corpus file with `story` fields is a labels file."""
    stories: dict[str, list[str]] = defaultdict(list)
    links: dict[str, frozenset[str]] = {}
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as error:
        raise InvalidInputError(f"{path}: cannot read labels ({error})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InvalidInputError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise InvalidInputError(f"{path}:{number}: a label line needs a string 'id'")
        related, story = row.get("related"), row.get("story")
        if related is not None:
            if not isinstance(related, list) or not all(isinstance(i, str) for i in related):
                raise InvalidInputError(f"{path}:{number}: 'related' must be a list of ids")
            links[row["id"]] = frozenset(related) - {row["id"]}
        elif story is not None:
            if not isinstance(story, str):
                raise InvalidInputError(f"{path}:{number}: 'story' must be a string")
            stories[story].append(row["id"])
    relevant = dict(links)
    groups = {query: query for query in links}
    for story, members in stories.items():
        for member in members:
            if len(members) > 1 and member not in relevant:
                relevant[member] = frozenset(members) - {member}
                groups[member] = f"story:{story}"
    return Labels(relevant, groups)


def tune(
    index: ArticleIndex,
    labels: Labels,
    default: Ranking,
    *,
    folds: int = 5,
) -> TuningResult:
    """Cross-validated choice of weights for this index's articles (see the module doc)."""
    grid = _grid(default)
    pools, groups, skipped = _pools(index, labels, grid)
    if len(pools) < MIN_QUERIES:
        raise InvalidInputError(
            f"{len(pools)} labelled articles with a labelled related article in the index; "
            f"tuning needs at least {MIN_QUERIES}"
        )
    scores = _grid_scores(grid, pools)
    default_scores = np.asarray([_ndcg(pool_scores(default, pool), pool) for pool in pools])
    folds = max(2, min(folds, len(set(groups))))
    fold_of = _fold_of_groups(groups, folds)
    tuned_held_out = np.empty(len(pools))
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        best = int(np.argmax(scores[:, train].mean(axis=1)))
        tuned_held_out[test] = scores[best, test]
    from scipy.stats import ttest_rel

    differences = tuned_held_out - default_scores
    p_value = (
        1.0 if not np.any(differences) else float(ttest_rel(tuned_held_out, default_scores).pvalue)
    )
    chosen = grid[int(np.argmax(scores.mean(axis=1)))]
    return TuningResult(
        default=default,
        tuned=chosen,
        held_out_default=float(default_scores.mean()),
        held_out_tuned=float(tuned_held_out.mean()),
        p_value=p_value,
        wins=int((differences > 0).sum()),
        losses=int((differences < 0).sum()),
        queries=len(pools),
        folds=folds,
        skipped_labels=skipped,
    )


def _grid(default: Ranking) -> list[Ranking]:
    settings = itertools.product(
        DENSE_WEIGHTS, DENSE_WEIGHTS_LONG, TIME_SETTINGS, NEIGHBOUR_WEIGHTS
    )
    grid = [
        replace(
            default,
            dense_weight=w,
            dense_weight_long=w_long,
            time_boost=b,
            time_decay_days=t,
            neighbour_weight=n,
        )
        for w, w_long, (b, t), n in settings
    ]
    return [default, *grid]


def _grid_scores(grid: Sequence[Ranking], pools: Sequence[_Pool]) -> np.ndarray:
    """nDCG@10 of every setting on every pool: (settings, pools). The bonus of a setting
    is computed once for all its neighbour weights (it does not depend on them)."""
    bonuses: dict[Ranking, list[np.ndarray]] = {}
    found = np.empty((len(grid), len(pools)))
    for number, ranking in enumerate(grid):
        if ranking.neighbour_weight > 0.0:
            key = replace(ranking, neighbour_weight=1.0)
            if key not in bonuses:
                bonuses[key] = [pool_bonus(key, pool) for pool in pools]
            for position, pool in enumerate(pools):
                bonus = ranking.neighbour_weight * bonuses[key][position]
                found[number, position] = _ndcg(_blend(ranking, pool) + bonus, pool)
        else:
            for position, pool in enumerate(pools):
                found[number, position] = _ndcg(_blend(ranking, pool), pool)
    return found


def _fold_of_groups(groups: Sequence[str], folds: int) -> np.ndarray:
    """Deterministic fold per query, the queries of one group always together."""
    names = sorted(set(groups))
    order = np.random.default_rng(0).permutation(len(names))
    fold_by_name = {names[i]: position % folds for position, i in enumerate(order)}
    return np.asarray([fold_by_name[group] for group in groups])


def _pools(
    index: ArticleIndex, labels: Labels, grid: Sequence[Ranking]
) -> tuple[list[_Pool], list[str], int]:
    depth = grid[0].pool_depth
    states = index.states(list(labels.relevant))
    row_of = {article_id: state.row_id for article_id, state in states.items()}
    related_states = index.states(list(_all(labels.relevant.values())))
    pools, groups, skipped = [], [], 0
    for query, relevant_ids in labels.relevant.items():
        relevant_rows = {related_states[i].row_id for i in relevant_ids if i in related_states}
        if query not in row_of or not relevant_rows:
            skipped += 1
            continue
        row_id = row_of[query]
        vector = index.vectors_of(np.asarray([row_id]))[0]
        terms = index.terms_of(row_id)
        dense_ids = index.dense_search(vector[None, :], depth + 1, None)[1][0]
        lexical_ids = index.lexical_search(terms, depth)[0]
        candidates = np.union1d(dense_ids[dense_ids >= 0], lexical_ids)
        candidates = candidates[candidates != row_id]
        starts = index.starts_of(candidates)
        own_start = index.starts_of([row_id])[0]
        pool = _Pool(
            terms=terms.nnz,
            dense=(index.vectors_of(candidates) @ vector).astype(np.float64),
            lexical=index.lexical_scores(terms, candidates).astype(np.float64),
            days=np.abs(starts - own_start) / SECONDS_PER_DAY,
            relevant=np.isin(candidates, list(relevant_rows)),
            relevant_total=len(relevant_rows),
            row_ids=candidates,
        )
        pool.pairs = _pairs(index, pool, grid, vector, terms)
        pools.append(pool)
        groups.append(labels.groups[query])
    return pools, groups, skipped


def _pairs(
    index: ArticleIndex,
    pool: _Pool,
    grid: Sequence[Ranking],
    vector: np.ndarray,
    terms: sparse.csr_matrix,
) -> _Pairs | None:
    """The pairwise cosines the grid's bonuses read: of the query and every candidate some
    setting with a bonus ranks among its best `neighbour_pool`."""
    needed: set[int] = set()
    # The neighbour pool does not depend on the neighbour weight: one per other setting.
    for ranking in {replace(r, neighbour_weight=1.0) for r in grid if r.neighbour_weight > 0}:
        needed.update(_neighbour_pool(ranking, pool).tolist())
    if not needed:
        return None
    members = np.asarray(sorted(needed))
    local = np.full(len(pool.row_ids), -1)
    local[members] = np.arange(1, len(members) + 1)
    rows = pool.row_ids[members]
    unit = np.vstack([vector[None, :], index.vectors_of(rows)])
    term_rows = sparse.vstack([terms, index.term_rows(rows)], format="csr")
    # The rows' own terms renumbered from 0, as neighbourhood.pairwise_scores does: a
    # product over the hashed space's million columns is slow for its bookkeeping alone.
    used, columns = np.unique(term_rows.indices, return_inverse=True)
    compact = sparse.csr_matrix(
        (term_rows.data, columns.reshape(-1), term_rows.indptr),
        shape=(term_rows.shape[0], len(used)),
    )
    return _Pairs(
        local=local,
        dense=np.asarray(unit @ unit.T, dtype=np.float64),
        lexical=np.asarray((compact @ compact.T).toarray(), dtype=np.float64),
        terms=np.diff(term_rows.indptr),
    )


def _neighbour_pool(ranking: Ranking, pool: _Pool) -> np.ndarray:
    """Positions of the candidates this setting gives the bonus to, as the ranking picks
    them: its best `neighbour_pool` by score, ties by row id."""
    scores = _blend(ranking, pool)
    return np.lexsort((pool.row_ids, -scores))[: ranking.neighbour_pool]


def pool_bonus(ranking: Ranking, pool: _Pool) -> np.ndarray:
    """The shared-neighbour bonus of every candidate of the pool under this setting,
    already times its `neighbour_weight`: (m,), 0 outside its neighbour pool."""
    bonus = np.zeros(len(pool.row_ids))
    if ranking.neighbour_weight <= 0.0 or pool.pairs is None:
        return bonus
    pairs = pool.pairs
    best = _neighbour_pool(ranking, pool)
    local = np.concatenate([[0], pairs.local[best]])
    if (local < 0).any():
        raise ValueError("a setting's neighbour pool was not in the grid the pairs were for")
    # Each row is scored from its own article's side, with the dense weight its length gives
    # (as neighbourhood.pairwise_scores does).
    weights = np.asarray([ranking.dense_weight_for(int(n)) for n in pairs.terms[local]])
    weights = weights[:, None]
    cosines = np.ix_(local, local)
    blended = weights * pairs.dense[cosines] + (1.0 - weights) * pairs.lexical[cosines]
    bonus[best] = ranking.neighbour_weight * shared_neighbour_bonus(
        blended, ranking.neighbour_count
    )
    return bonus


def pool_scores(ranking: Ranking, pool: _Pool) -> np.ndarray:
    """The ranking's score of every candidate of the pool, bonus included: (m,)."""
    return _blend(ranking, pool) + pool_bonus(ranking, pool)


def _all(sets: Iterable[frozenset[str]]) -> set[str]:
    found: set[str] = set()
    for ids in sets:
        found |= ids
    return found


def _blend(ranking: Ranking, pool: _Pool) -> np.ndarray:
    return ranking.combined(pool.dense, pool.lexical, pool.days, pool.terms)


def _ndcg(scores: np.ndarray, pool: _Pool) -> float:
    top = np.lexsort((pool.row_ids, -scores))[:10]
    gains = pool.relevant[top].astype(np.float64)
    ideal = _DISCOUNTS[: min(pool.relevant_total, 10)].sum()
    return float(gains @ _DISCOUNTS[: len(gains)]) / ideal
