"""A site's own story clustering, learned by `newsrec stories tune` and kept in the index
directory (`story-profile.json`), as the ranking keeps `ranking-profile.json`.

The shipped clustering holds on every kind of archive we can assemble; a site with labels
may do better on its own (its stories may run for a year). The profile holds the story
settings `tuning.py` learned (by their `Settings` names) and what they scored held out.
Story settings given explicitly (`NEWSREC_STORY_MERGE_MARGIN`, ...) still win over it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from recommender.errors import InvalidInputError
from recommender.index.publish import write_json_atomically
from recommender.stories.clustering import StoryClustering

STORY_PROFILE_FILE = "story-profile.json"
STORY_PROFILE_VERSION = 1
# Settings name -> StoryClustering field, for every setting the tuning learns.
TUNED_STORY_SETTINGS = {
    "story_time_decay_days": "time_decay_days",
    "story_time_boost": "time_boost",
    "story_merge_margin": "merge_margin",
    "story_dense_threshold": "dense_threshold",
    "story_lexical_threshold": "lexical_threshold",
}


@dataclass(frozen=True)
class StoryProfile:
    """Learned story settings (`Settings` names) and their held-out evidence."""

    settings: dict[str, float]
    held_out: dict[str, float] = field(default_factory=dict)  # BCubed F1 etc., for people

    def __post_init__(self) -> None:
        unknown = sorted(set(self.settings) - set(TUNED_STORY_SETTINGS))
        if unknown:
            raise InvalidInputError(
                f"story profile: unknown settings {unknown}; known: {list(TUNED_STORY_SETTINGS)}"
            )
        for name, value in self.settings.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"story profile: {name} must be a number")
            if not math.isfinite(value):
                raise InvalidInputError(f"story profile: {name} must be finite")

    @classmethod
    def of_clustering(
        cls, clustering: StoryClustering, held_out: dict[str, float] | None = None
    ) -> StoryProfile:
        values = {
            name: float(getattr(clustering, attribute))
            for name, attribute in TUNED_STORY_SETTINGS.items()
        }
        return cls(values, dict(held_out or {}))


def story_profile_path(index_dir: Path) -> Path:
    return index_dir / STORY_PROFILE_FILE


def load_story_profile(index_dir: Path) -> StoryProfile | None:
    """The index's story profile, or None when it has none. A damaged file is an error, not
    the default silently: an operator who tuned expects the tuned stories."""
    path = story_profile_path(index_dir)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path}: cannot read the story profile ({error})") from None
    try:
        content: Any = json.loads(raw)
        if content.get("version") != STORY_PROFILE_VERSION:
            raise InvalidInputError(
                f"{path}: story profile version {content.get('version')!r}, "
                f"expected {STORY_PROFILE_VERSION}; run newsrec stories tune again"
            )
        return StoryProfile(dict(content["settings"]), dict(content.get("held_out", {})))
    except InvalidInputError as error:
        if str(error).startswith(str(path)):
            raise
        raise InvalidInputError(
            f"{path}: {error}; run newsrec stories tune again or --reset"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidInputError(
            f"{path} is not a story profile ({error}); run newsrec stories tune again or --reset"
        ) from None


def save_story_profile(index_dir: Path, profile: StoryProfile) -> Path:
    """Write the profile atomically (a reader sees the old one or the new one, whole)."""
    path = story_profile_path(index_dir)
    write_json_atomically(path, {"version": STORY_PROFILE_VERSION, **asdict(profile)})
    return path


def remove_story_profile(index_dir: Path) -> bool:
    try:
        story_profile_path(index_dir).unlink()
    except FileNotFoundError:
        return False
    return True
