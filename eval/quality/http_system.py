"""The recommender as a running service answers it: `GET /articles/{id}/related|slots`.

Expects the service's documented JSON: related `{"id", "related": [{"id", "score", ...}]}`,
slots `{"id", "previous": {"id", ...} | null, "next": {...} | null}`. Transport errors and
unexpected answers become `ServiceError`, with the URL that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from eval.quality.slots import SlotPair
from eval.quality.systems import Ranked
from recommender import NewsrecError

_TIMEOUT_SECONDS = 60.0


class ServiceError(NewsrecError):
    """The service could not be reached or did not answer as documented."""


class HttpSystem:
    """Related lists and slots from a service at `base_url`. Close it (or use `with`)."""

    def __init__(self, base_url: str, name: str = "default") -> None:
        self.base_url = base_url.rstrip("/")
        self._name = name
        self._client = httpx.Client(base_url=self.base_url, timeout=_TIMEOUT_SECONDS)

    @property
    def name(self) -> str:
        return self._name

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpSystem:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def rank(self, query_ids: Sequence[str], depth: int) -> dict[str, Ranked]:
        ranked: dict[str, Ranked] = {}
        for query_id in query_ids:
            answer = self._get(f"/articles/{quote(query_id, safe='')}/related", {"k": depth})
            try:
                ranked[query_id] = [(str(i["id"]), float(i["score"])) for i in answer["related"]]
            except (KeyError, TypeError, ValueError) as error:
                raise ServiceError(
                    f"{self.base_url}: unexpected related answer for {query_id!r} ({error!r})"
                ) from error
        return ranked

    def slots(self, query_ids: Sequence[str]) -> dict[str, SlotPair]:
        found: dict[str, SlotPair] = {}
        for query_id in query_ids:
            answer = self._get(f"/articles/{quote(query_id, safe='')}/slots", {})
            try:
                found[query_id] = (_slot_id(answer["previous"]), _slot_id(answer["next"]))
            except (KeyError, TypeError) as error:
                raise ServiceError(
                    f"{self.base_url}: unexpected slots answer for {query_id!r} ({error!r})"
                ) from error
        return found

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = self._client.get(path, params=params)
        except httpx.HTTPError as error:
            raise ServiceError(f"{self.base_url}{path}: {error}") from error
        if response.status_code != 200:
            raise ServiceError(
                f"{self.base_url}{path}: HTTP {response.status_code} {response.text[:200]!r}"
            )
        try:
            return response.json()
        except ValueError as error:
            raise ServiceError(f"{self.base_url}{path}: not JSON ({error})") from error


def _slot_id(item: Any) -> str | None:
    return None if item is None else str(item["id"])
