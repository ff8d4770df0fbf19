"""Tests of recommender/topics."""
