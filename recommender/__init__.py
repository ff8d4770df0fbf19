"""The newsrec core: articles, store, index, related articles and slots.

Knows nothing of HTTP or the command line; `service` and `eval` build on it.
"""

from recommender.articles import Article, article_from_mapping
from recommender.errors import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    InvalidArticleError,
    InvalidInputError,
    NewsrecError,
)
from recommender.index.article_index import ArticleIndex
from recommender.index.options import IndexInfo, IndexOptions
from recommender.index.upsert_plan import UpsertReport
from recommender.ingest.loaders import ArticleBatch, load_articles, read_article_rows
from recommender.ranking.query import RelatedFilters
from recommender.ranking.recommender import Recommender
from recommender.ranking.results import RelatedArticle, Slots
from recommender.ranking.scoring import Ranking
from recommender.settings import Settings
from recommender.system import build_embedder, build_recommender, open_index

__all__ = [
    "Article",
    "ArticleBatch",
    "ArticleIndex",
    "ArticleNotFoundError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexInfo",
    "IndexMismatchError",
    "IndexOptions",
    "InvalidArticleError",
    "InvalidInputError",
    "NewsrecError",
    "Ranking",
    "Recommender",
    "RelatedArticle",
    "RelatedFilters",
    "Settings",
    "Slots",
    "UpsertReport",
    "article_from_mapping",
    "build_embedder",
    "build_recommender",
    "load_articles",
    "open_index",
    "read_article_rows",
]
