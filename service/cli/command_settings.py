"""The CLI's composition root: the settings of one `newsrec` run, read once and handed to
the commands (through the typer context the main callback sets up)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import typer

from recommender import Settings
from service.settings import ServiceSettings


class CommandSettings:
    """Made by the main callback, one per run. The environment is read on first use, not
    when the object is made, so `newsrec CMD --help` never fails on a bad NEWSREC_* value."""

    @cached_property
    def base(self) -> Settings:
        return Settings()

    @cached_property
    def service(self) -> ServiceSettings:
        """The HTTP service's settings (`newsrec serve`)."""
        return ServiceSettings()

    def for_index(self, index_dir: Path | None) -> Settings:
        """The run's settings, with `--index-dir` (when given) over NEWSREC_HOME."""
        if index_dir is None:
            return self.base
        return self.base.model_copy(update={"index_dir": index_dir})


def run_settings(context: typer.Context) -> CommandSettings:
    """The run's settings object. Commands registered on an app without the main callback
    (a test's stand-in app, `python -m service.cli.serve`) get their own, made here."""
    return context.ensure_object(CommandSettings)


def command_settings(context: typer.Context, index_dir: Path | None = None) -> Settings:
    """The settings a command runs with."""
    return run_settings(context).for_index(index_dir)
