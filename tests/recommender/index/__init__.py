"""Tests of recommender/index."""
