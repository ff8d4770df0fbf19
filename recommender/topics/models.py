"""Loading whichever kind of topic model a directory holds."""

from __future__ import annotations

from pathlib import Path

from embeddings import Embedder
from recommender.topics import trained, zero_shot
from recommender.topics.assignment import TopicTagger
from recommender.topics.errors import InvalidTopicModelError
from recommender.topics.model_files import load_model


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
