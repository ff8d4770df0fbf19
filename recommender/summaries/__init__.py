"""Extractive summaries and the sentence machinery they rest on."""
