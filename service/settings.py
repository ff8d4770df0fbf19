"""Settings of the HTTP service only; the core's settings stay in `recommender.Settings`.

Read from NEWSREC_* environment variables like the core's, overridable in code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.http.schemas import API_MAX_K, MAX_TEXT_CHARS

# "single": one process reads and writes (the default). "reader": opens the index read-only
# and reloads each newly published version; writes are proxied to `writer_socket` when set,
# else refused (read-only). Set by `newsrec serve --workers N`, not by hand.
ServiceRole = Literal["single", "reader"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREC_", frozen=True, extra="ignore")

    api_token: SecretStr | None = Field(
        default=None,
        description="When set, write endpoints require `Authorization: Bearer <token>`.",
    )
    read_only: bool = Field(default=False, description="Refuse every write with 403.")
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Larger request bodies get 413."
    )
    max_bulk_articles: int = Field(
        default=500, ge=1, le=100_000, description="Articles per `POST /articles` request."
    )
    max_k: int = Field(
        default=API_MAX_K,
        ge=1,
        le=API_MAX_K,
        description=f"Largest k a related request may ask for (422 above; at most {API_MAX_K}).",
    )
    max_text_chars: int = Field(
        default=MAX_TEXT_CHARS,
        ge=100,
        le=MAX_TEXT_CHARS,
        description="Longest title or body of an article written through the API, in "
        f"characters (422 above; at most {MAX_TEXT_CHARS:,}). Stored in full; the model "
        "reads the first 256 tokens.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (comma-separated).",
    )
    access_log: bool = Field(default=True, description="One line per request on stdout.")
    response_cache_size: int = Field(
        default=10_000, ge=0, description="Related/slots responses kept per index version."
    )
    response_cache_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Bytes of cached responses at most (their rendered JSON); the least "
        "recently used go first. 0 turns the cache off.",
    )
    request_head_timeout: float = Field(
        default=10.0,
        gt=0.0,
        le=300.0,
        description="Seconds a client has to send a request's line and headers (from the "
        "connection opening or the previous answer); then the connection is closed.",
    )
    request_body_timeout: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        description="Seconds the service waits for each part of a request body (408 after).",
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, le=300, description="Seconds an idle keep-alive connection is kept."
    )
    max_connections: int = Field(
        default=2048,
        ge=1,
        description="Connections (and requests in progress) per process at most; above it "
        "new requests get 503 at once.",
    )
    reload_interval: float = Field(
        default=1.0,
        ge=0.1,
        le=60.0,
        description="Seconds between checks for a new index version (reader role).",
    )
    role: ServiceRole = Field(
        default="single",
        description="`single`: one process reads and writes. `reader`: a worker of `newsrec "
        "serve --workers N`, which sets it (not set by hand).",
    )
    parent_pid: int | None = Field(
        default=None,
        description="Exit (as on SIGTERM) once this process is gone; `newsrec serve --workers` "
        "sets it for the writer and the reader workers it starts.",
    )
    writer_socket: Path | None = Field(
        default=None, description="Unix socket of the writer that readers forward writes to."
    )

    @field_validator("api_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        # A blank token would refuse every write, silently: unset it for open writes.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty or whitespace (unset it to leave writes open)")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def allows_k(self, k: int) -> bool:
        """The one check of a request's k in the service (routes and the fast reads)."""
        return 1 <= k <= self.max_k

    @property
    def accepts_writes(self) -> bool:
        return not self.read_only and (self.role == "single" or self.writer_socket is not None)


class CliSettings(BaseSettings):
    """Settings of the `newsrec` command itself (read apart from the others: the CLI reports
    a bad value of those in one line, and must not fail reading its own)."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSREC_", frozen=True, extra="ignore", env_ignore_empty=True
    )

    debug: bool = Field(
        default=False,
        description="Let an unexpected error's traceback through (`newsrec` commands); "
        "otherwise it is one line on stderr.",
    )


def cli_debugging() -> bool:
    """NEWSREC_DEBUG as the CLI's last line of defence reads it: a value that is not a
    boolean still asks for more, so it counts as on."""
    try:
        return CliSettings().debug
    except ValidationError:
        return True


def quiet_library_output() -> None:
    """Keep the model libraries' chatter (verbose logs, download bars, the tokenizers' fork
    warning) off a user's terminal; a value the user set is kept."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def set_for_worker_processes(
    *,
    index_dir: Path | None = None,
    role: ServiceRole | None = None,
    parent_pid: int | None = None,
    writer_socket: Path | None = None,
) -> None:
    """`newsrec serve --workers N`: uvicorn starts the workers (and the writer) as processes
    that build their settings from the environment they inherit, so what the parent decides
    for them is set there, under the names those settings read. None: left as it is."""
    values = {
        "NEWSREC_HOME": index_dir,
        "NEWSREC_ROLE": role,
        "NEWSREC_PARENT_PID": parent_pid,
        "NEWSREC_WRITER_SOCKET": writer_socket,
    }
    for name, value in values.items():
        if value is not None:
            os.environ[name] = str(value)
