"""Layers run one way: the core imports without the service, the CLI or the model.

Besides what a fresh interpreter loads, the imports are read from the source (function-level
ones included, `if TYPE_CHECKING:` blocks left out): an import inside a function is still a
dependency, and only keeping it there hides a cycle until the day it runs first.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, modules_imported_after

FORBIDDEN = ["fastapi", "typer", "torch", "sentence_transformers", "service"]
PACKAGES = ("recommender", "embeddings", "service", "eval")
# The one place the service (its CLI) wires eval in.
SERVICE_MODULES_IMPORTING_EVAL = {"service.cli.evaluate"}


def test_core_imports_without_service_cli_or_model() -> None:
    assert modules_imported_after("import recommender, embeddings", FORBIDDEN) == []


def _module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but the bodies of `if TYPE_CHECKING:` (never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for other in node.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield node
        yield from _runtime_nodes(node)


def _import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (`from a import b` is a.b when b is
    a module, else a)."""
    modules = _module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.append(submodule if submodule in modules else node.module)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return _import_graph()


def _importers(graph: dict[str, set[str]], source: str, target: str) -> set[str]:
    return {
        module
        for module, imported in graph.items()
        if module.split(".")[0] == source and any(t.split(".")[0] == target for t in imported)
    }


def test_the_graph_sees_function_level_imports(graph: dict[str, set[str]]) -> None:
    # The reader of the source must see what the runtime check cannot: cli_eval imports
    # eval inside its commands.
    assert "eval.quality.related_eval" in graph["service.cli.evaluate"]
    assert "embeddings.onnx_inputs" in graph["embeddings.onnx_export"]


def test_embeddings_imports_nothing_of_the_other_packages(graph: dict[str, set[str]]) -> None:
    for other in ("recommender", "service", "eval"):
        assert _importers(graph, "embeddings", other) == set(), other


def test_the_core_imports_nothing_of_service_or_eval(graph: dict[str, set[str]]) -> None:
    for core in ("recommender", "embeddings"):
        for layer in ("service", "eval"):
            assert _importers(graph, core, layer) == set(), (core, layer)


def test_only_the_cli_wires_eval_into_the_service(graph: dict[str, set[str]]) -> None:
    assert _importers(graph, "service", "eval") == SERVICE_MODULES_IMPORTING_EVAL


def test_eval_imports_nothing_of_the_service(graph: dict[str, set[str]]) -> None:
    # eval drives the service through its CLI in a subprocess; the harnesses that run the app
    # in process live beside their tests (tests/harness).
    assert _importers(graph, "eval", "service") == set()


MAX_MODULE_LINES = 400


def test_no_module_outside_tests_is_over_400_lines() -> None:
    # Issue 19: a module over this holds more than one job; split it by job, not by size.
    long = {
        name: lines
        for name, path in _module_files().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_every_component_folder_is_a_package_the_graph_reads(graph: dict[str, set[str]]) -> None:
    folders = {
        "recommender.index",
        "recommender.index.vectors",
        "recommender.ranking",
        "recommender.stories",
        "recommender.topics",
        "recommender.ingest",
        "recommender.summaries",
        "recommender.batch",
        "service.http",
        "service.http.routes",
        "service.cli",
        "eval.quality",
        "eval.bench",
        "eval.studies",
    }
    assert folders <= set(graph)
    for folder in folders:
        assert any(module.startswith(folder + ".") for module in graph), folder


def _cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path of imports from `start` back to itself, if any (depth-first)."""
    path: list[str] = []
    seen: set[str] = set()

    def visit(module: str) -> bool:
        for imported in sorted(graph[module]):
            if imported == start:
                path.append(imported)
                return True
            if imported not in seen:
                seen.add(imported)
                path.append(imported)
                if visit(imported):
                    return True
                path.pop()
        return False

    return [start, *path] if visit(start) else None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(graph: dict[str, set[str]], package: str) -> None:
    # minilm_onnx and onnx_export imported each other (one of them inside functions); the
    # tokenizer and pooling they share are now onnx_inputs.
    for module in sorted(m for m in graph if m.split(".")[0] == package):
        assert _cycle_from(graph, module) is None, " -> ".join(_cycle_from(graph, module) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle_from({"a": {"b"}, "b": {"a"}}, "a") == ["a", "b", "a"]
    assert _cycle_from({"a": {"b"}, "b": set()}, "a") is None
