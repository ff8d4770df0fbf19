"""The benchmark phase of a new user's order: `newsrec index FILE`, then `newsrec serve`,
related-by-id for every id once. Checked for what it asks, not for its speed."""

from __future__ import annotations

import pytest

from eval.bench import load_test
from tests.conftest import SEEDS_DIR

pytestmark = pytest.mark.slow

WARM_UP = 20


def test_every_id_is_asked_once_after_index_then_serve() -> None:
    options = load_test.index_serve_options(
        embedder="hashing", duration=120.0, connections=4, live=True
    )

    result = load_test.index_then_serve(SEEDS_DIR / "articles.jsonl", options)

    assert result.articles == 105
    measured = result.articles - WARM_UP
    assert (result.related.requests, result.related.errors) == (measured, 0)
    assert (result.healthz.requests, result.healthz.errors) == (measured, 0)
    assert result.index_seconds > 0 and result.ratio > 0
    assert result.live is not None  # the same ids again, ranked live
    assert [(f.requests, f.errors) for f in result.live] == [(measured, 0), (measured, 0)]
