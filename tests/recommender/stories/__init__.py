"""Tests of recommender/stories."""
