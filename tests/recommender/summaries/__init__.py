"""Tests of recommender/summaries."""
