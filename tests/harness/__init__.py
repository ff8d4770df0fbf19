"""Crash, fuzz and slow-client harnesses, beside the tests that run short versions of them."""
