"""The one settings object. Read from NEWSREC_* environment variables, overridable in code."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender.index.vectors.faiss_index import AUTO_HNSW_FROM, DEFAULT_EF_SEARCH


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREC_", frozen=True, populate_by_name=True)

    index_dir: Path = Field(
        default=Path("newsrec-data"),
        validation_alias=AliasChoices("NEWSREC_HOME", "index_dir"),
        description="Directory holding the index (store, vectors, manifest).",
    )
    embedder: Literal["minilm", "hashing"] = Field(
        default="minilm", description="`hashing` is the deterministic test embedder."
    )
    max_chunks: int = Field(
        default=1,
        ge=1,
        le=16,
        description="256-token windows the dense model reads per article (1 = truncate).",
    )
    encode_batch_size: int = Field(
        default=16, ge=1, le=1024, description="Texts the dense model encodes at once."
    )
    encoder_backend: Literal["torch", "onnx"] = Field(
        default="torch",
        description="What runs MiniLM: sentence-transformers on torch, or its ONNX export on "
        "onnxruntime (the `onnx` extra; same vectors, so indexes are shared).",
    )
    onnx_cache_dir: Path | None = Field(
        default=None,
        description="Where the ONNX export is kept, one folder per model version; "
        "default: ~/.cache/newsrec/onnx.",
    )
    prompt_cache_dir: Path | None = Field(
        default=None,
        description="Where zero-shot tagging keeps its taxonomy's prompt vectors once encoded, "
        "one file per embedder and prompt set; default: ~/.cache/newsrec/prompt-vectors "
        "(a directory that cannot be written only means the prompts are encoded each time).",
    )
    index_type: Literal["auto", "exact", "hnsw"] = Field(
        default="auto",
        description="Vector index kind; `auto` is exact below `hnsw_from` articles, else HNSW.",
    )
    hnsw_from: int = Field(
        default=AUTO_HNSW_FROM,
        ge=1,
        description="Corpus size from which `auto` switches to HNSW (on the next save).",
    )
    hnsw_ef_search: int = Field(
        default=DEFAULT_EF_SEARCH,
        ge=8,
        le=4096,
        description="Candidates an HNSW search keeps (efSearch): more finds more of the exact "
        "neighbours, slower.",
    )
    vector_backend: Literal["faiss", "qdrant"] | None = Field(
        default=None,
        description="Where the vectors are searched: FAISS in process, or a Qdrant collection "
        "(the `distributed` extra). None: the one the index records (`newsrec migrate` moves "
        "them); FAISS for a new index. Naming the other one is an error.",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant's URL; None: the one the index records, else qdrant-client's local "
        "mode in the index directory; `:memory:`: in process, rebuilt from the store on each "
        "open (tests).",
    )
    qdrant_collection: str | None = Field(
        default=None,
        min_length=1,
        description="None: the one the index records, else `newsrec`.",
    )
    duplicate_threshold: float = Field(
        default=0.7,
        gt=0.0,
        le=1.0,
        description="Estimated shingle Jaccard at or above which two texts are near-duplicates.",
    )
    dense_weight: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Weight of the dense cosine against the whole-text TF-IDF cosine "
        "(short texts: up to 32 distinct terms).",
    )
    dense_weight_long: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="The dense weight for long articles (128 distinct terms or more), "
        "reached log-linearly from `dense_weight`.",
    )
    time_boost: float = Field(
        default=0.0,
        ge=0.0,
        allow_inf_nan=False,  # an infinite boost makes every dated score inf / inf = NaN
        description="Opt-in bounded boost for stories close in time (0 = off, the default).",
    )
    time_decay_days: float = Field(
        default=180.0, gt=0.0, description="Days over which the time boost decays by 1/e."
    )
    neighbour_weight: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Shared-neighbour re-ranking: the most a candidate gains when its nearest "
        "neighbours agree with the query's (0 = off; see recommender/ranking/neighbourhood.py).",
    )
    neighbour_count: int = Field(
        default=7, ge=1, le=50, description="Nearest neighbours compared per article."
    )
    lexical_max_df: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="The TF-IDF side drops a term found in more than this share of the "
        "articles, once that is over 100 of them (1 = keep every term).",
    )
    # At most a quarter of the ranking's 200-candidate pool: a stored list's first k items
    # are then exactly the live answer for k (a deeper list would rank from a larger pool).
    related_list_depth: int = Field(
        default=20,
        ge=0,
        le=50,
        description="Items per stored related list (`newsrec precompute`): related-by-id "
        "without filters and k up to this is read from the list instead of ranked live. "
        "0: no stored lists; every request is ranked live.",
    )
    assign_stories: bool = Field(
        default=True,
        description="Assign articles to stories as they are written (false: each article "
        "reads as a story of its own until `newsrec stories recluster`).",
    )
    story_dense_threshold: float = Field(
        default=0.7,
        ge=-1.0,
        le=1.0,
        description="An article joins the story of its best-scoring candidate from a blended "
        "score of w * this + (1 - w) * story_lexical_threshold (w: its dense weight); below, "
        "it opens a story of its own (see recommender/stories/clustering.py).",
    )
    story_lexical_threshold: float = Field(
        default=0.15, ge=-1.0, le=1.0, description="The TF-IDF side of the join threshold."
    )
    story_merge_margin: float = Field(
        default=0.15,
        ge=0.0,
        description="How much above the join threshold an article must score with two "
        "stories to merge them (large: never merge).",
    )
    story_support: int = Field(
        default=1,
        ge=1,
        description="A story of at least story_support_from_size articles is linked to a new "
        "article by its N-th best-scoring member, not its best (1: off). 4 stops one bridging "
        "article from chaining stories; it wins on seeds, seeds-wikinews and WCEP-YEAR but "
        "loses on wcep-digests, all of WCEP's labelled items and the slots (docs/stories.md, "
        "'Chaining, measured').",
    )
    story_support_from_size: int = Field(
        default=8,
        ge=1,
        description="The story size from which story_support applies; smaller stories are "
        "linked by their best member.",
    )
    story_centroid_floor: float = Field(
        default=0.5,
        ge=-1.0,
        le=1.0,
        description="A story of at least story_centroid_from_size articles is joined or merged "
        "only by an article whose dense cosine with the story's centroid clears this "
        "(-1: off): one member it reads like is not enough (docs/stories.md, 'Chaining, "
        "measured').",
    )
    story_centroid_from_size: int = Field(
        default=4, ge=1, description="The story size from which story_centroid_floor applies."
    )
    story_time_boost: float = Field(
        default=1.0,
        ge=0.0,
        allow_inf_nan=False,  # inf / inf = NaN: no story link would ever clear a threshold
        description="A story link is scaled by (1 + b * exp(-days apart / t)) / (1 + b), b this, "
        "t story_time_decay_days: a story is bounded in time even where the ranking is not "
        "(0: no time factor).",
    )
    story_time_decay_days: float = Field(
        default=180.0, gt=0.0, description="The time scale of story_time_boost, in days."
    )
    slot_relevance_floor: float = Field(
        default=0.35,
        ge=-1.0,
        le=1.0,
        description="A previous/next slot whose story has no article on that side takes the "
        "most related article there only from this score up; else the slot is empty.",
    )
    slot_strategy: Literal[
        "story-nearest", "story-related", "related-in-story", "related", "related-then-story"
    ] = Field(
        default="story-related",
        description="How a previous/next slot is chosen: the story's best-scored article on "
        "that side (story-related), its nearest in time (story-nearest), the nearest among "
        "the 10 most related that are in the story (related-in-story), the most related "
        "whatever its story (related), or that, then the story where nothing clears the "
        "floor (related-then-story). Measured by `newsrec eval stories` (docs/stories.md).",
    )
    relevance_floor: Literal["off", "calibrated"] = Field(
        default="off",
        description="`calibrated`: a related item is shown only above the index's calibrated "
        "floor (fewer than 1 in `relevance_floor_one_in` random pairs of articles score above "
        "it); the rest of the top k is withheld and counted. Off by default: no rate both "
        "keeps nDCG@10 on every corpus measured and gives one-off articles clearly fewer "
        "items (docs/relevance.md).",
    )
    relevance_floor_one_in: int = Field(
        default=1000,
        ge=2,
        le=1_000_000,
        description="The calibrated floor's false-positive rate: 1 in this many unrelated pairs.",
    )
    topic_model: Path | None = Field(
        default=None,
        description="A topic model directory (`newsrec topics train`); default: zero-shot.",
    )
    topic_taxonomy: str | None = Field(
        default=None,
        description="The zero-shot taxonomy when no topic model is set: 'default' (12 "
        "topics), 'iptc' (17 IPTC Media Topics) or a JSON/YAML file.",
    )
    topic_share_rows: int = Field(
        default=256,
        ge=0,
        description="`newsrec tag` without --model re-weights zero-shot topics by the topic "
        "shares of the file's first N rows (docs/topics.md); 0 turns it off.",
    )
    tag_on_index: bool = Field(
        default=True, description="Tag articles with topics as they are indexed."
    )
    write_batch_size: int = Field(
        default=1024, ge=1, description="Articles committed per transaction while indexing."
    )
    ray_address: str | None = Field(
        default=None,
        # Ray's own variable too, read here rather than in ray_batch (one place reads the
        # environment); newsrec's name wins when both are set.
        validation_alias=AliasChoices("NEWSREC_RAY_ADDRESS", "RAY_ADDRESS", "ray_address"),
        description="The Ray cluster of `--engine ray` (HOST:PORT, ray://HOST:PORT or auto); "
        "also read from RAY_ADDRESS. None: a local Ray instance.",
    )
