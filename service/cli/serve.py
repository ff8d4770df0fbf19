"""`newsrec serve`: register it on the main app with `register(app)`.

Also runnable on its own: `python -m service.cli.serve --index-dir DIR`.
FastAPI and uvicorn are imported only when the command runs, so other `newsrec`
commands do not pay for them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.command_settings import command_settings, run_settings
from service.cli.options import IndexDir


def serve(
    context: typer.Context,
    index_dir: IndexDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Reader processes; with more than one, writes go to one writer process.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API and the demo page (http://HOST:PORT/)."""
    from service.http.serve import serve as run

    settings = command_settings(context, index_dir)
    service = run_settings(context).service  # a bad setting fails here, before the banner
    run(settings, service, host, port, workers)


def register(app: typer.Typer) -> None:
    """Add `serve` to the main `newsrec` application."""
    app.command("serve")(serve)


if __name__ == "__main__":
    typer.run(serve)
