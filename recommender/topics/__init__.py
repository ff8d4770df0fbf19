"""Topic classification: a taxonomy, zero-shot and trained taggers, batch tagging, evaluation.

Every tagger meets `TopicTagger`: it scores vectors the caller already has (an index's stored
vectors, or a batch just encoded) and never re-encodes article text.
"""

from recommender.topics.assignment import TopicAssignment, TopicScore, TopicTagger
from recommender.topics.batch import TagReport, tag_file
from recommender.topics.errors import (
    InvalidLabelMappingError,
    InvalidTaxonomyError,
    InvalidTopicModelError,
    TopicModelMismatchError,
)
from recommender.topics.evaluation import (
    WCEP_MAPPING,
    ClassScores,
    EvaluationReport,
    evaluate_assignments,
    load_label_mapping,
)
from recommender.topics.labelled import (
    DEFAULT_LABEL_FIELD,
    LabelledArticles,
    gold_labels,
    load_labelled,
)
from recommender.topics.models import build_tagger, load_tagger
from recommender.topics.taxonomy import Taxonomy, Topic, default_taxonomy, load_taxonomy
from recommender.topics.trained import CrossValidation, TrainedTagger, fit_trained_tagger
from recommender.topics.vectors import ArticleVectors, VectorLookup, article_vectors
from recommender.topics.zero_shot import ZeroShotTagger

__all__ = [
    "DEFAULT_LABEL_FIELD",
    "WCEP_MAPPING",
    "ArticleVectors",
    "ClassScores",
    "CrossValidation",
    "EvaluationReport",
    "InvalidLabelMappingError",
    "InvalidTaxonomyError",
    "InvalidTopicModelError",
    "LabelledArticles",
    "TagReport",
    "Taxonomy",
    "Topic",
    "TopicAssignment",
    "TopicModelMismatchError",
    "TopicScore",
    "TopicTagger",
    "TrainedTagger",
    "VectorLookup",
    "ZeroShotTagger",
    "article_vectors",
    "build_tagger",
    "default_taxonomy",
    "evaluate_assignments",
    "fit_trained_tagger",
    "gold_labels",
    "load_label_mapping",
    "load_labelled",
    "load_tagger",
    "load_taxonomy",
    "tag_file",
]
