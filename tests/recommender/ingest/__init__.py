"""Tests of recommender/ingest."""
