"""Hostile requests the schema cannot generate, for `tests.harness.fuzz_service`.

Schemathesis sends what the OpenAPI schema describes (or breaks it field by field); these
are the inputs an adversarial pass found harmful and the schema cannot express:

- unpaired surrogate escapes ("\\ud800") in any string or key of a JSON body: valid JSON,
  no valid text (once a 500 on writes and on anonymous text endpoints);
- lists and objects nested from a few to thousands of levels in an extra field or a
  field of the wrong type (once accepted, then unreadable);
- NaN and infinities, which Python's JSON parser accepts;
- abbreviation-dense bodies ("Mr. ", "U.S. ", "Jan. 5 ", long runs of stops) up to the
  text limit (once quadratic in the sentence splitter: 75 s for one request).

Every answer must be a documented non-5xx code with a JSON body; the slowest request is
reported, so a regression to quadratic time shows as a number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

# What each kind of request may answer (documented on its operation).
_EXPECTED = frozenset({200, 201, 404, 413, 422})
_ABBREVIATIONS = ("Mr. ", "Dr. ", "U.S. ", "U.N. ", "Jan. 5 ", "Gen. ", "J. ", "Inc. ")
_STOPS = (".", "!", "?", "...", ".)", "!)", '."')


@dataclass
class AdversarialReport:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")

    def record(self, label: str, status: int, seconds: float, problem: str | None) -> None:
        self.cases += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if problem is not None:
            self.failures.setdefault(f"{label}: {problem}", problem)
        if seconds > self.slowest[0]:
            self.slowest = (seconds, label)


def _lone_surrogate() -> st.SearchStrategy[str]:
    return st.integers(0xD800, 0xDFFF).map(lambda code: f"\\u{code:04x}")


@st.composite
def surrogate_bodies(draw: st.DrawFn) -> str:
    """A JSON article or text query with a lone surrogate escape in one string or key."""
    escape = draw(_lone_surrogate())
    text = draw(st.text(st.characters(codec="ascii", exclude_characters='"\\'), max_size=20))
    where = draw(st.sampled_from(["title", "body", "extra value", "extra key"]))
    fields = {"title": f'"{text}"', "body": '"b"'}
    if where in ("title", "body"):
        fields[where] = f'"{text}{escape}"'
    elif where == "extra value":
        fields["note"] = f'"{escape}{text}"'
    else:
        fields[f"k{escape}"] = "1"
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


@st.composite
def nested_bodies(draw: st.DrawFn) -> str:
    """An article whose extra field (or title) nests 1 to 5,000 levels of lists/objects."""
    depth = draw(st.one_of(st.integers(1, 40), st.integers(40, 5_000)))
    kind = draw(st.sampled_from(["[", "{"]))
    inner = "1"
    for _ in range(depth):
        inner = f"[{inner}]" if kind == "[" else f'{{"a": {inner}}}'
    where = draw(st.sampled_from(["extra", "title"]))
    if where == "title":
        return f'{{"title": {inner}}}'
    return f'{{"title": "nested", "tree": {inner}}}'


@st.composite
def non_finite_bodies(draw: st.DrawFn) -> str:
    number = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]))
    return f'{{"title": "t", "score": {number}}}'


@st.composite
def abbreviation_bodies(draw: st.DrawFn) -> str:
    """A body of abbreviations and stops, from a few to ~190,000 characters."""
    units = draw(st.lists(st.sampled_from(_ABBREVIATIONS + _STOPS), min_size=1, max_size=8))
    repeats = draw(st.one_of(st.integers(1, 50), st.integers(5_000, 30_000)))
    body = ("".join(units) * repeats)[:190_000]
    return json.dumps({"title": "Dense", "body": body + " The end."})


def fuzz_adversarial(client: TestClient, examples: int, random_seed: int) -> AdversarialReport:
    """`examples` requests of each strategy against the routes that read such a body."""
    report = AdversarialReport()
    targets: list[tuple[str, Callable[[], st.SearchStrategy[str]], list[tuple[str, str]]]] = [
        (
            "surrogates",
            surrogate_bodies,
            [("PUT", "/articles/fuzz-s"), ("POST", "/related"), ("POST", "/topics")],
        ),
        ("nesting", nested_bodies, [("PUT", "/articles/fuzz-n"), ("POST", "/related")]),
        ("non-finite", non_finite_bodies, [("PUT", "/articles/fuzz-f"), ("POST", "/related")]),
        (
            "abbreviations",
            abbreviation_bodies,
            [("POST", "/summary"), ("PUT", "/articles/fuzz-a")],
        ),
    ]
    for name, strategy, routes in targets:
        for method, path in routes:
            _run_strategy(
                client,
                report,
                f"{name} {method} {path}",
                strategy(),
                method,
                path,
                examples,
                random_seed,
            )
    # What was accepted must read back (a deep article once gave 201, then 500 forever),
    # and the stored abbreviation-dense article is summarised by its own route.
    reads = [f"/articles/fuzz-{kind}" for kind in "snfa"] + ["/articles/fuzz-a/summary"]
    for path in reads:
        started = time.perf_counter()
        answer = client.get(path)
        report.record(
            f"read back GET {path}",
            answer.status_code,
            time.perf_counter() - started,
            _problem(answer),
        )
    return report


def _run_strategy(
    client: TestClient,
    report: AdversarialReport,
    label: str,
    strategy: st.SearchStrategy[str],
    method: str,
    path: str,
    examples: int,
    random_seed: int,
) -> None:
    @seed(random_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(body=strategy)
    def run(body: str) -> None:
        started = time.perf_counter()
        answer = client.request(
            method, path, content=body.encode(), headers={"content-type": "application/json"}
        )
        report.record(label, answer.status_code, time.perf_counter() - started, _problem(answer))

    run()


def _problem(answer: Any) -> str | None:
    if answer.status_code not in _EXPECTED:
        return f"status {answer.status_code}: {answer.text[:300]}"
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return f"content type {answer.headers.get('content-type')!r}"
    return None
