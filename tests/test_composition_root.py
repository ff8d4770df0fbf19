"""One composition root per entry point: the settings objects are built only where a process
starts (the CLI's run, the service's factory, each eval script's `main`) and passed down from
there. Read from the source: a library function that builds `Settings()` itself reads the
environment deep inside, where no caller can see or override it."""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.conftest import PROJECT_ROOT

PACKAGES = ("recommender", "embeddings", "service", "eval")
SETTINGS_CLASSES = {"Settings", "ServiceSettings", "CliSettings"}

# (file, the function that builds them): every entry point, and why it is one.
ENTRY_POINTS = {
    # `newsrec`: the run's settings, read once (on first use) and handed to every command.
    ("service/cli/command_settings.py", "CommandSettings.base"),
    ("service/cli/command_settings.py", "CommandSettings.service"),
    # The CLI's last line of defence reads NEWSREC_DEBUG on its own: a bad value of any
    # other setting must not hide the traceback it asks for.
    ("service/settings.py", "cli_debugging"),
    # uvicorn's factory: the writer and each reader process of `newsrec serve --workers N`.
    ("service/http/app.py", "app_from_environment"),
    # The eval and benchmark scripts (`python -m eval....`): each one's main.
    ("eval/quality/slot_comparison.py", "main"),
    ("eval/studies/floor_study.py", "main"),
    ("eval/studies/fusion_study.py", "main"),
    ("eval/studies/fusion_long_text.py", "main"),
    ("eval/studies/neighbours_one_offs.py", "main"),
    ("eval/studies/ranking_study.py", "main"),
    ("eval/studies/relevance_study.py", "main"),
    ("eval/studies/topics_study.py", "main"),
    ("eval/bench/neighbours.py", "main"),
    ("eval/bench/ray.py", "main"),
    ("eval/bench/runner.py", "main"),
    ("eval/bench/stories.py", "main"),
    ("eval/bench/load_test.py", "main"),
}


def settings_constructions(source: str) -> Iterator[tuple[str, int]]:
    """(enclosing function's dotted name, line) of each call of a settings class in `source`;
    `<module>` for a call at import time."""
    tree = ast.parse(source)

    def visit(node: ast.AST, scope: tuple[str, ...]) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(child, (*scope, child.name))
                continue
            if isinstance(child, ast.Call):
                called = child.func
                name = called.id if isinstance(called, ast.Name) else None
                if isinstance(called, ast.Attribute):
                    name = called.attr
                if name in SETTINGS_CLASSES:
                    yield ".".join(scope) or "<module>", child.lineno
            yield from visit(child, scope)

    yield from visit(tree, ())


def _constructions() -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).as_posix()
            for function, line in settings_constructions(path.read_text(encoding="utf-8")):
                found.setdefault((relative, function), []).append(line)
    return found


def test_settings_are_built_only_at_the_entry_points() -> None:
    elsewhere = {
        f"{file}:{lines[0]} ({function})"
        for (file, function), lines in _constructions().items()
        if (file, function) not in ENTRY_POINTS
    }
    assert elsewhere == set(), "take the settings as a parameter; build them in the entry point"


def test_every_listed_entry_point_still_builds_them() -> None:
    # An entry that no longer builds settings is stale: take it off the list.
    assert ENTRY_POINTS - _constructions().keys() == set()


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("s = Settings()", [("<module>", 1)]),
        ("def f():\n    return Settings(index_dir=x)", [("f", 2)]),
        ("class C:\n    def m(self):\n        return ServiceSettings()", [("C.m", 3)]),
        ("import service.settings as s\ndef g():\n    s.CliSettings().debug", [("g", 3)]),
        ("def f(settings: Settings) -> Settings:\n    return settings", []),
        ("x = settings.model_copy(update={'index_dir': d})", []),
    ],
)
def test_constructions_are_found(source: str, found: list[tuple[str, int]]) -> None:
    assert list(settings_constructions(source)) == found
