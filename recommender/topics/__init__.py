"""Topic classification: a taxonomy, zero-shot and trained taggers, batch tagging, evaluation.

Every tagger meets `TopicTagger`: it scores vectors the caller already has (an index's stored
vectors, or a batch just encoded) and never re-encodes article text; one that `reads_terms`
(an adapted model with a lexical head) is handed the articles' hashed terms too.
"""

from recommender.topics.adapt import Adaptation, CheckedAdaptation, adapt_tagger, adapt_with_holdout
from recommender.topics.assignment import TopicAssignment, TopicScore, TopicTagger
from recommender.topics.batch import TagReport, tag_file
from recommender.topics.comparison import ComparisonRow, compare_taggers, taxonomy_prior
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
from recommender.topics.lexical_head import LexicalHead
from recommender.topics.models import (
    ADAPTED_MODEL_DIR,
    build_tagger,
    configured_model_dir,
    load_tagger,
)
from recommender.topics.taxonomy import (
    BUILTIN_TAXONOMIES,
    Taxonomy,
    Topic,
    builtin_taxonomy,
    default_taxonomy,
    load_taxonomy,
    resolve_taxonomy,
)
from recommender.topics.trained import (
    CrossValidation,
    PriorExamples,
    TrainedTagger,
    fit_trained_tagger,
)
from recommender.topics.vectors import (
    ArticleVectors,
    VectorLookup,
    article_terms,
    article_vectors,
)
from recommender.topics.zero_shot import ZeroShotTagger

__all__ = [
    "ADAPTED_MODEL_DIR",
    "BUILTIN_TAXONOMIES",
    "DEFAULT_LABEL_FIELD",
    "WCEP_MAPPING",
    "Adaptation",
    "ArticleVectors",
    "CheckedAdaptation",
    "ClassScores",
    "ComparisonRow",
    "CrossValidation",
    "EvaluationReport",
    "InvalidLabelMappingError",
    "InvalidTaxonomyError",
    "InvalidTopicModelError",
    "LabelledArticles",
    "LexicalHead",
    "PriorExamples",
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
    "adapt_tagger",
    "adapt_with_holdout",
    "article_terms",
    "article_vectors",
    "build_tagger",
    "builtin_taxonomy",
    "compare_taggers",
    "configured_model_dir",
    "default_taxonomy",
    "evaluate_assignments",
    "fit_trained_tagger",
    "gold_labels",
    "load_label_mapping",
    "load_labelled",
    "load_tagger",
    "load_taxonomy",
    "resolve_taxonomy",
    "tag_file",
    "taxonomy_prior",
]
