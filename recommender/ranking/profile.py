"""A site's own ranking weights, learned by `newsrec tune` and kept in the index directory.

The shipped default is the one that holds on every kind of archive; a site with labels can
do better on its own (its stories may run in weeks, not years, or its headlines may say more
than its bodies). The profile holds only the weights `tuning.py` learned and what they scored
on held-out folds. Settings given explicitly (`NEWSREC_DENSE_WEIGHT`, ...) still win over it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recommender.errors import InvalidInputError

PROFILE_FILE = "ranking-profile.json"
PROFILE_VERSION = 1
TUNED_FIELDS = (
    "dense_weight",
    "dense_weight_long",
    "time_boost",
    "time_decay_days",
    "neighbour_weight",
)


@dataclass(frozen=True)
class RankingProfile:
    """Learned weights (names of `Ranking` fields) and their held-out evidence."""

    weights: dict[str, float]
    held_out: dict[str, float] = field(default_factory=dict)  # nDCG@10 etc., for people

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(TUNED_FIELDS))
        if unknown:
            raise InvalidInputError(
                f"ranking profile: unknown weights {unknown}; known: {list(TUNED_FIELDS)}"
            )
        for name, value in self.weights.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"ranking profile: {name} must be a number")
            if not math.isfinite(value):
                raise InvalidInputError(f"ranking profile: {name} must be finite")


def profile_path(index_dir: Path) -> Path:
    return index_dir / PROFILE_FILE


def load_profile(index_dir: Path) -> RankingProfile | None:
    """The index's profile, or None when it has none. A damaged file is an error, not the
    default silently: an operator who tuned expects the tuned ranking."""
    path = profile_path(index_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        content: Any = json.loads(raw)
        if content.get("version") != PROFILE_VERSION:
            raise InvalidInputError(
                f"{path}: ranking profile version {content.get('version')!r}, "
                f"expected {PROFILE_VERSION}"
            )
        return RankingProfile(dict(content["weights"]), dict(content.get("held_out", {})))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidInputError(
            f"{path} is not a ranking profile ({error}); run newsrec tune again or delete it"
        ) from None


def save_profile(index_dir: Path, profile: RankingProfile) -> Path:
    """Write the profile atomically (a reader sees the old one or the new one, whole)."""
    path = profile_path(index_dir)
    content = {"version": PROFILE_VERSION, **asdict(profile)}
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=index_dir, prefix=".profile-", delete=False
    ) as out:
        json.dump(content, out, indent=2, sort_keys=True)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)
    return path


def remove_profile(index_dir: Path) -> bool:
    try:
        profile_path(index_dir).unlink()
    except FileNotFoundError:
        return False
    return True
