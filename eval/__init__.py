"""Offline evaluation and benchmarks for newsrec. Builds on `recommender`; never imported by it."""
