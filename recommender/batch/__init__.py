"""Batch engines: encoding and tagging on Ray Data, and what serves their results."""
