"""Reaching a Ray cluster: the address to use, a quick check that its port answers, and
`ray.init` bounded in time, so a dead or wrong address fails in seconds, in one line
(`RayUnavailableError`), instead of after minutes of Ray's own retries.

Ray is imported only here, and only when a job runs: the core imports without it (the
`ray` extra).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from recommender.errors import InvalidInputError

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a cluster's port: Ray's own retries take minutes on a dead address."""
DEFAULT_INIT_TIMEOUT = 3.0
"""Seconds to wait for `ray.init` to connect to a cluster whose port is open: on a port that
is not Ray's it retries for many minutes. Well under 5 s, after which Ray's native client
prints warnings to stderr that no logger silences; a healthy cluster answers in well under
a second.

A ray:// address gets DEFAULT_CLIENT_INIT_TIMEOUT instead: the client server starts a server
process for each new client, which takes seconds of its own."""
DEFAULT_CLIENT_INIT_TIMEOUT = 30.0
"""Seconds to wait for `ray.init` on a ray:// address (see DEFAULT_INIT_TIMEOUT)."""
_GCS_PORT = 6379
_CLIENT_PORT = 10001


class RayUnavailableError(InvalidInputError):
    """Ray is not installed, the cluster cannot be reached, or the pipeline failed."""


def resolve_address(configured: str | None) -> str | None:
    """The cluster to use: --ray-address, else the setting (NEWSREC_RAY_ADDRESS, else
    RAY_ADDRESS), else None (a local Ray instance on this machine)."""
    return configured or None


def check_reachable(address: str | None, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
    """Fail within `timeout` seconds if `address`'s port does not accept a connection.

    `ray.init` on a dead address retries for minutes before it gives up; a plain TCP connect
    says the same in one round trip. "auto", "local" and None have no port to try.
    """
    target = _host_and_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise RayUnavailableError(
            f"cannot reach the Ray cluster at {address} ({reason}; {timeout:g} s timeout); "
            "check --ray-address, NEWSREC_RAY_ADDRESS or RAY_ADDRESS. Nothing was run"
        ) from None


@contextmanager
def connected(address: str | None, timeout: float | None = None) -> Iterator[Any]:
    """Ray, connected to `address` (None: a new local instance); shut down after if this
    call connected. A process already connected (a test, a notebook) keeps its connection."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    # Ray's INFO lines and per-operator progress bars would mix with the CLI's output.
    logging.getLogger("ray").setLevel(logging.ERROR)
    _init(ray, address, timeout)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # A failed pipeline logs its tracebacks too; its error reaches the caller, in one line.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        yield ray
    finally:
        ray.shutdown()


def _init(ray: Any, address: str | None, timeout: float | None) -> None:
    """`ray.init`, given `timeout` seconds when it connects to a cluster (None: the default
    for the kind of address, DEFAULT_INIT_TIMEOUT or DEFAULT_CLIENT_INIT_TIMEOUT).

    A port that accepts connections but is not Ray's (the dashboard's, the client server's
    without ray://, anything else) passes `check_reachable`, and `ray.init` then retries for
    many minutes in native code that no signal interrupts. So it runs in a daemon thread,
    and the caller gives up at the deadline: the thread is left to Ray's retries and ends
    with the process. Starting a local instance (None, "local") has no deadline.
    """
    options = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    where = address or "a local instance"
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            ray.init(address=address, **options)
        except BaseException as error:  # handed to the caller, who reports it
            outcome.append(error)
        else:
            outcome.append(None)

    if timeout is None:
        client = (address or "").startswith("ray://")
        timeout = DEFAULT_CLIENT_INIT_TIMEOUT if client else DEFAULT_INIT_TIMEOUT
    if address is None or address == "local":
        connect()
    else:
        thread = threading.Thread(target=connect, name="newsrec-ray-init", daemon=True)
        thread.start()
        thread.join(timeout)
    if not outcome:
        raise _no_answer(address, timeout)
    error = outcome[0]
    if isinstance(error, (ConnectionError, RuntimeError, ValueError)):
        raise RayUnavailableError(f"cannot start Ray at {where}: {one_line(error)}") from None
    if error is not None:
        raise error


def _no_answer(address: str | None, timeout: float) -> RayUnavailableError:
    expected = (
        "a Ray client server, 10001 by default"
        if (address or "").startswith("ray://")
        else "the head's GCS port, 6379 by default; the client server needs ray://"
    )
    return RayUnavailableError(
        f"no Ray cluster answered at {address} within {timeout:g} s (the port is open: "
        f"is it {expected}?). Nothing was run"
    )


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailableError(
            "the ray engine needs Ray: pip install -e '.[ray]' (or use --engine local)"
        ) from None
    return ray


def _host_and_port(address: str | None) -> tuple[str, int] | None:
    """HOST:PORT, [IPv6]:PORT or ray://HOST:PORT; a missing port is Ray's default."""
    if address is None or address in ("auto", "local"):
        return None
    text, port = address, _GCS_PORT
    if text.startswith("ray://"):
        text, port = text.removeprefix("ray://"), _CLIENT_PORT
    elif "://" in text:
        # http://head:8265 is the dashboard (and job submission), which ray.init cannot use.
        raise RayUnavailableError(
            f"not a Ray address: {address!r} (expected HOST:PORT for the head's GCS port, "
            "6379 by default, or ray://HOST:10001; a dashboard http:// address is not one)"
        )
    text = text.split("/", 1)[0]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host or (port_text and not port_text.isdigit()):
        raise RayUnavailableError(f"not a Ray address: {address!r} (expected HOST:PORT)")
    return host, int(port_text) if port_text else port


_DIRECT_CAUSE = "The above exception was the direct cause of the following exception:"


def one_line(error: BaseException) -> str:
    """Ray's errors wrap the worker's in others (RayTaskError, UserCodeException) and carry
    its traceback as text: the worker's own last line says what happened."""
    text = str(error)
    if _DIRECT_CAUSE in text:
        lines = [line.strip() for line in text.split(_DIRECT_CAUSE)[0].splitlines()]
        if any(lines):
            return [line for line in lines if line][-1]
    inner = getattr(error, "cause", None)
    if isinstance(inner, BaseException) and inner is not error:
        return one_line(inner)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
