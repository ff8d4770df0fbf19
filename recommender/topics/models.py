"""Choosing the tagger: a saved model directory (trained or zero-shot), else zero-shot."""

from __future__ import annotations

from pathlib import Path

from embeddings import Embedder
from recommender.topics import trained, zero_shot
from recommender.topics.assignment import TopicTagger
from recommender.topics.errors import InvalidTopicModelError
from recommender.topics.model_files import load_model
from recommender.topics.prompt_cache import PromptVectorCache
from recommender.topics.taxonomy import resolve_taxonomy

ADAPTED_MODEL_DIR = "topic-model"
"""Where `newsrec index --adapt-topics` saves the model it fits, inside the index directory."""


def configured_model_dir(topic_model: Path | None, index_dir: Path) -> Path | None:
    """The topic model to tag with: the one configured (NEWSREC_TOPIC_MODEL), else the one
    adapted to this index (`newsrec index --adapt-topics`), else None: zero-shot."""
    if topic_model is not None:
        return topic_model
    adapted = Path(index_dir) / ADAPTED_MODEL_DIR
    return adapted if adapted.is_dir() else None


def build_tagger(
    embedder: Embedder,
    *,
    model_dir: Path | None = None,
    taxonomy_file: str | Path | None = None,
    prompt_cache_dir: Path | None = None,
) -> TopicTagger:
    """The tagger in `model_dir` if given; else zero-shot on a taxonomy: a built-in name
    (`default`, `iptc`) or a JSON/YAML file (default: the built-in 12 topics).

    Zero-shot embeds the taxonomy's prompts, which loads the embedder's model, unless
    `prompt_cache_dir` already holds their vectors; a saved model directory
    (`ZeroShotTagger.save`, or a trained or adapted model) does not.
    """
    if model_dir is not None:
        return load_tagger(model_dir, embedder)
    prompt_encoder = embedder
    if prompt_cache_dir is not None:
        prompt_encoder = PromptVectorCache(embedder, prompt_cache_dir)
    return zero_shot.ZeroShotTagger.from_taxonomy(resolve_taxonomy(taxonomy_file), prompt_encoder)


def load_tagger(directory: Path, embedder: Embedder) -> TopicTagger:
    """The tagger saved in `directory`; refuses one fitted on another embedder's vectors."""
    kind = load_model(directory).kind
    if kind == trained.KIND:
        return trained.TrainedTagger.load(
            directory, embedder_name=embedder.name, dimension=embedder.dimension
        )
    if kind == zero_shot.KIND:
        return zero_shot.ZeroShotTagger.load(
            directory, embedder_name=embedder.name, dimension=embedder.dimension
        )
    raise InvalidTopicModelError(f"{directory}: unknown topic model kind {kind!r}")
