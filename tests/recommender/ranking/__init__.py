"""Tests of recommender/ranking."""
