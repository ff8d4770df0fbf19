"""Errors of the topic layer, placed under the core's hierarchy (recommender.errors).

InvalidInputError
├── InvalidTaxonomyError      a taxonomy file newsrec cannot use
├── InvalidTopicModelError    a model directory that is missing, incomplete or malformed
└── InvalidLabelMappingError  a label mapping file that is not label -> label(s)
IndexMismatchError
└── TopicModelMismatchError   a model trained on another embedder's vectors
"""

from __future__ import annotations

from recommender.errors import IndexMismatchError, InvalidInputError


class InvalidTaxonomyError(InvalidInputError):
    """A taxonomy file is unreadable or breaks the taxonomy format."""


class InvalidTopicModelError(InvalidInputError):
    """A topic model directory is missing, incomplete or malformed."""


class InvalidLabelMappingError(InvalidInputError):
    """A label mapping is not a mapping of label strings to label strings."""


class TopicModelMismatchError(IndexMismatchError):
    """A topic model was fitted on vectors from another embedder."""
