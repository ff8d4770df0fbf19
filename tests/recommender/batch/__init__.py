"""Tests of recommender/batch."""
