"""The environment is read and written only by the settings modules (files whose name contains
`settings`); elsewhere a module gets its configuration passed in. Copying the environment to
build a child process's (`{**os.environ, ...}`, `dict(os.environ)`) is the one other use."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from recommender import Settings
from service.settings import ServiceSettings, cli_debugging, set_for_worker_processes
from tests.conftest import PROJECT_ROOT

PACKAGES = ("recommender", "embeddings", "service", "eval")
# Still reading it, with the reason. A new entry here is a new scattered setting, not a fix.
KNOWN_READERS: set[str] = set()


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ("environ", "environb")
        and (isinstance(node.value, ast.Name) and node.value.id == "os")
    )


def environment_uses(source: str) -> list[int]:
    """Line numbers where `source` reads or writes the process environment, other than
    copying it whole into a child process's environment."""
    tree = ast.parse(source)
    copies: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            copies.update(
                id(value)
                for key, value in zip(node.keys, node.values, strict=True)
                if key is None and _is_environ(value)
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and len(node.args) == 1
            and _is_environ(node.args[0])
        ):
            copies.add(id(node.args[0]))
    lines = []
    for node in ast.walk(tree):
        if _is_environ(node) and id(node) not in copies:
            lines.append(node.lineno)  # type: ignore[attr-defined]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ("getenv", "putenv", "unsetenv", "getenvb")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(
                alias.name in ("environ", "getenv", "putenv", "environb") for alias in node.names
            )
        ):
            lines.append(node.lineno)
    return sorted(lines)


def _package_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (PROJECT_ROOT / package).rglob("*.py"))


def test_only_settings_modules_touch_the_environment() -> None:
    found = {}
    for path in _package_files():
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if "settings" in path.name or relative in KNOWN_READERS:
            continue
        lines = environment_uses(path.read_text(encoding="utf-8"))
        if lines:
            found[relative] = lines
    assert found == {}, "read the environment in a settings module, pass the value in"


def test_the_known_readers_still_read_it() -> None:
    # An entry that no longer reads the environment is stale: take it off the list.
    for relative in KNOWN_READERS:
        assert environment_uses((PROJECT_ROOT / relative).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("import os\nx = os.environ.get('A')", [2]),
        ("import os\nos.environ['A'] = '1'", [2]),
        ("import os\nx = os.getenv('A')", [2]),
        ("from os import environ", [1]),
        ("import os\nenv = {**os.environ, 'A': '1'}", []),
        ("import os\nenv = dict(os.environ)", []),
        ("import os\nenv = {**os.environ, 'A': os.environ['B']}", [2]),
        ("import os\nx = os.path.join('a', 'b')", []),
    ],
)
def test_environment_uses_are_found(source: str, lines: list[int]) -> None:
    assert environment_uses(source) == lines


@pytest.mark.parametrize(
    ("value", "debugging"),
    [(None, False), ("", False), ("1", True), ("false", False), ("please", True)],
)
def test_newsrec_debug_is_read_by_the_cli_settings(
    value: str | None, debugging: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A value that is not a boolean still asks for the traceback; an empty one does not.
    if value is None:
        monkeypatch.delenv("NEWSREC_DEBUG", raising=False)
    else:
        monkeypatch.setenv("NEWSREC_DEBUG", value)
    monkeypatch.setenv("NEWSREC_MAX_K", "not a number")  # another setting's bad value: no matter
    assert cli_debugging() is debugging


def test_what_serve_sets_for_its_workers_is_what_their_settings_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEWSREC_HOME", "NEWSREC_ROLE", "NEWSREC_PARENT_PID", "NEWSREC_WRITER_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    # monkeypatch restores whatever the function sets once the test is over.
    monkeypatch.setattr(os, "environ", dict(os.environ))
    set_for_worker_processes(
        index_dir=tmp_path / "index", role="reader", parent_pid=4321, writer_socket=tmp_path / "w"
    )
    set_for_worker_processes(index_dir=None)  # None leaves a value as it is

    service = ServiceSettings()
    assert (service.role, service.parent_pid, service.writer_socket) == (
        "reader",
        4321,
        tmp_path / "w",
    )
    assert Settings().index_dir == tmp_path / "index"
