"""Ranking: the scores that say how related two articles are, and the recommender that
composes them into related lists and previous/next slots."""
