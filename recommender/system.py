"""The composition root: every entry point (CLI, service, eval) builds newsrec from here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embeddings import Embedder, EmbedderChoice, create_embedder
from embeddings.environment_settings import user_cache_root
from recommender.index.article_index import ArticleIndex
from recommender.index.options import IndexOptions
from recommender.ranking.profile import TUNED_FIELDS, load_profile
from recommender.ranking.recommender import Recommender
from recommender.ranking.scoring import Ranking
from recommender.settings import Settings
from recommender.stories.assigner import StoryAssigner
from recommender.stories.clustering import StoryClustering
from recommender.stories.profile import TUNED_STORY_SETTINGS, load_story_profile
from recommender.topics import TopicTagger, build_tagger, configured_model_dir
from recommender.topics.prompt_cache import PromptVectorCache


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder; its model loads only when something is first encoded."""
    return create_embedder(
        EmbedderChoice(
            kind=settings.embedder,
            max_chunks=settings.max_chunks,
            batch_size=settings.encode_batch_size,
            backend=settings.encoder_backend,
            cache_dir=settings.onnx_cache_dir,
        )
    )


def prompt_cache_dir(settings: Settings) -> Path:
    """Where zero-shot keeps its taxonomy's prompt vectors: the setting, else the user's cache."""
    return settings.prompt_cache_dir or user_cache_root() / "newsrec" / "prompt-vectors"


def prompt_encoder(settings: Settings, embedder: Embedder) -> Embedder:
    """`embedder` for a taxonomy's prompts: their vectors read from the cache once encoded."""
    return PromptVectorCache(embedder, prompt_cache_dir(settings))


def configured_tagger(
    settings: Settings, embedder: Embedder, model_dir: Path | None = None
) -> TopicTagger:
    """The tagger in `model_dir`, else the configured one (the index's adapted model, or
    zero-shot on the configured taxonomy, its prompt vectors read from the cache)."""
    return build_tagger(
        embedder,
        model_dir=model_dir or configured_model_dir(settings.topic_model, settings.index_dir),
        taxonomy_file=settings.topic_taxonomy,
        prompt_cache_dir=prompt_cache_dir(settings),
    )


def topic_tagger_factory(settings: Settings, embedder: Embedder) -> Callable[[], TopicTagger]:
    """Builds the configured tagger when first needed (zero-shot embeds its taxonomy)."""
    return lambda: configured_tagger(settings, embedder)


def index_tagger(settings: Settings) -> Callable[[Embedder], TopicTagger] | None:
    """How the index's tagger is built on an embedder; None when indexing does not tag."""
    if not settings.tag_on_index:
        return None
    return lambda embedder: configured_tagger(settings, embedder)


def index_options(settings: Settings) -> IndexOptions:
    """How the settings' index stores, searches and writes (the index's own settings)."""
    return IndexOptions(
        index_type=settings.index_type,
        hnsw_from=settings.hnsw_from,
        hnsw_ef_search=settings.hnsw_ef_search,
        duplicate_threshold=settings.duplicate_threshold,
        write_batch_size=settings.write_batch_size,
        vector_backend=settings.vector_backend,
        qdrant_url=settings.qdrant_url,
        qdrant_collection=settings.qdrant_collection,
        lexical_max_df=settings.lexical_max_df,
    )


def open_index(
    settings: Settings,
    *,
    writable: bool = False,
    embedder: Embedder | None = None,
    tagger: Callable[[], TopicTagger] | None = None,
) -> ArticleIndex:
    """The index of `settings`. `embedder` and `tagger` (a factory, used on the first tagged
    write) replace the configured ones; the index tags only when `settings.tag_on_index`."""
    embedder = embedder or build_embedder(settings)
    if not settings.tag_on_index:
        tagger = None
    elif tagger is None:
        tagger = topic_tagger_factory(settings, embedder)
    index = ArticleIndex.open(
        settings.index_dir,
        embedder,
        writable=writable,
        tagger=tagger,
        options=index_options(settings),
    )
    if writable and settings.assign_stories:
        index.story_assigner = build_story_assigner(settings, index)
    return index


def build_story_assigner(
    settings: Settings, index: ArticleIndex, *, use_profile: bool = True
) -> StoryAssigner:
    """Assigns written articles to stories, with the ranking's score (see `stories.py`).
    The index's story profile (`newsrec stories tune`) stands in for every story setting
    the settings do not name explicitly; `use_profile=False`: the settings alone (what
    tuning must beat)."""
    values = {name: getattr(settings, name) for name in TUNED_STORY_SETTINGS}
    profile = load_story_profile(index.directory) if use_profile else None
    if profile is not None:
        explicit = settings.model_fields_set
        values |= {k: v for k, v in profile.settings.items() if k not in explicit}
    return StoryAssigner(
        build_recommender(settings, index),
        StoryClustering(
            support=settings.story_support,
            support_from_size=settings.story_support_from_size,
            centroid_floor=settings.story_centroid_floor,
            centroid_from_size=settings.story_centroid_from_size,
            **{TUNED_STORY_SETTINGS[name]: value for name, value in values.items()},
        ),
    )


def build_ranking(settings: Settings, index_dir: Path | None = None) -> Ranking:
    """The settings' ranking, with the index's tuned profile (`newsrec tune`) in place of
    every weight the settings do not name explicitly."""
    weights = {name: getattr(settings, name) for name in TUNED_FIELDS}
    profile = load_profile(index_dir) if index_dir is not None else None
    if profile is not None:
        explicit = settings.model_fields_set
        weights |= {k: v for k, v in profile.weights.items() if k not in explicit}
    return Ranking(**weights, neighbour_count=settings.neighbour_count)


def build_recommender(settings: Settings, index: ArticleIndex) -> Recommender:
    return Recommender(
        index,
        build_ranking(settings, index.directory),
        list_depth=settings.related_list_depth,
        slot_floor=settings.slot_relevance_floor,
        slot_strategy=settings.slot_strategy,
        calibrated_floor=settings.relevance_floor == "calibrated",
        floor_one_in=settings.relevance_floor_one_in,
    )
