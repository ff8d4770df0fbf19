"""Fuzz the HTTP service from its own OpenAPI schema with schemathesis.

    python -m tests.harness.fuzz_service --examples 500 [--seed S]

Builds a small index (hashing embedder) in a temporary directory, starts the app in
process (its lifespan runs: the index is loaded), and sends every operation of
`/openapi.json` generated requests: positive ones (valid by the schema) and negative ones
(invalid: wrong types, missing fields, out-of-range numbers, malformed bodies). Each answer
must not be a 5xx, must use a documented status code and content type, and must match the
documented response schema. Writes are fuzzed too (no token is set), so the index changes
under the reads as the run goes on.

Then the hostile inputs the schema cannot express (`tests.harness.fuzz_adversarial`): unpaired
surrogate escapes, deep nesting, NaN and infinities, abbreviation-dense bodies, `examples`
of each per route; the slowest of those requests is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recommender import Article
from tests.harness.fuzz_adversarial import AdversarialReport, fuzz_adversarial

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class FuzzReport:
    cases: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # one example per distinct failure
    adversarial: AdversarialReport | None = None

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {count}" for code, count in sorted(self.by_status.items()))
        text = f"{self.cases} cases ({statuses}); {len(self.failures)} distinct failures"
        if self.adversarial is not None:
            hostile = self.adversarial
            codes = ", ".join(f"{c}: {n}" for c, n in sorted(hostile.by_status.items()))
            text += (
                f"; hostile inputs: {hostile.cases} cases ({codes}), "
                f"{len(hostile.failures)} failures, slowest {hostile.slowest[0]:.2f} s "
                f"({hostile.slowest[1]})"
            )
        return text


def fuzz_app(app: FastAPI, examples: int, *, random_seed: int = 0) -> FuzzReport:
    """Every operation, positive and negative, `examples` cases each (at most)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # runs the lifespan
    live = app.state.live
    if not live.wait_ready(60):
        raise RuntimeError(f"the index did not load: {live.status()}")
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run = _operation_test(operation, mode, examples, random_seed, report)
            with suppress(Unsatisfiable):  # nothing invalid to generate: no parameters
                run()
    return report


def _operation_test(
    operation: Any, mode: GenerationMode, examples: int, random_seed: int, report: FuzzReport
) -> Callable[[], None]:
    @seed(random_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # every failure is recorded, none is shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        report.cases += 1
        try:
            response = case.call()
        except Exception as error:  # the app raised (a 500 in production): record it, go on
            report.by_status[500] += 1
            key = f"{operation.label} [{mode.value}] raised {type(error).__name__}"
            report.failures.setdefault(key, f"{type(error).__name__}: {error}"[:1500])
            return
        report.by_status[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, FailureGroup) as error:  # a failed check: record it, go on
            text = str(error)
            key = f"{operation.label} [{mode.value}] {text.splitlines()[2:3]}"
            report.failures.setdefault(key, text[:1500])

    return run


def fuzz_service(examples: int, random_seed: int = 0) -> FuzzReport:
    """A fresh index of a small dated corpus with stored related lists (so plain related and
    slots requests take the fast path), and the app over it."""
    from recommender import Settings, build_recommender, open_index
    from recommender.ranking.list_refresh import owners_to_rank, store_lists_of
    from service.http.app import create_app
    from service.settings import ServiceSettings

    with tempfile.TemporaryDirectory(prefix="newsrec-fuzz-") as directory:
        index_settings = Settings(index_dir=Path(directory) / "index", embedder="hashing")
        with open_index(index_settings, writable=True) as index:
            index.upsert(fuzz_corpus())
            recommender = build_recommender(index_settings, index)
            store_lists_of(recommender, owners_to_rank(recommender))
            index.save()
        app = create_app(index_settings, ServiceSettings(access_log=False))
        report = fuzz_app(app, examples, random_seed=random_seed)
        # The same running app (its lifespan was started by schemathesis and holds the index).
        client = TestClient(app, raise_server_exceptions=False)
        report.adversarial = fuzz_adversarial(client, examples, random_seed)
        report.failures.update(report.adversarial.failures)
        return report


def fuzz_corpus() -> list[Article]:
    """Four small stories over two years, and ids a path makes awkward."""
    stories = {
        "election": "election ballot parliament vote coalition campaign",
        "flood": "flood river rain evacuation rescue dam",
        "cup": "football cup final goal striker penalty",
        "talks": "Libya Russia security cooperation Moscow defence talks",
    }
    articles = []
    for number, (story, words) in enumerate(stories.items()):
        for part in range(4):
            articles.append(
                Article(
                    id=f"{story}-{part}",
                    title=f"{story.title()} report {part}",
                    body=f"{words} part {part} {words}",
                    published=f"{2024 + part % 2}-{1 + 3 * number:02d}-{1 + part:02d}",
                    source="Wire",
                )
            )
    for odd in ("a/b", "50% off? #x", "café ünï", "x/related", "-", "0"):
        articles.append(Article(id=odd, title=f"Odd id {odd}", body=stories["flood"]))
    return articles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="per operation and mode")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = fuzz_service(args.examples, args.seed)
    print(f"{report.summary()}; {time.monotonic() - started:.0f} s")
    for key, text in report.failures.items():
        print(f"\n== {key}\n{text}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
