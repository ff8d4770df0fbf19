"""Service memory: resident size of `newsrec serve` against the vectors and the model.

The server is started on a built index, asked for related lists (every part of the index
loads: vectors, catalog, lexical index), then for one related-for-text (the model loads);
its resident size is read from /proc after each step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from eval.bench.load_server import (
    free_port,
    process_memory,
    sample_ids,
    start_server,
    wait_ready,
)
from eval.quality.shared_data import WCEP
from recommender.index.vectors.faiss_index import HNSW_NEIGHBOURS

# An HNSW graph holds 2 M neighbour ids (int32) per vector on its base layer.
_GRAPH_BYTES_PER_VECTOR = 2 * HNSW_NEIGHBOURS * 4


@dataclass(frozen=True)
class MemoryFigures:
    articles: int
    started_bytes: int  # ready, nothing asked yet
    serving_bytes: int  # after related-by-id requests
    with_model_bytes: int  # after one related-for-text
    vectors_bytes: int  # articles x dimension x 4
    graph_bytes: int  # the HNSW links, when the index is HNSW
    model_bytes: int  # the model's weights on disk


def service_memory(index_dir: Path, *, requests: int = 200, seed: int = 0) -> MemoryFigures:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(index_dir, port, workers=1)
    try:
        wait_ready(base, timeout=1800)
        with httpx.Client(base_url=base, timeout=120) as client:
            ready = client.get("/readyz").json()
            started, _ = process_memory(server.pid)
            ids = sample_ids(base, WCEP, requests, seed)
            for article_id in ids:
                client.get(f"/articles/{quote(article_id, safe='')}/related?k=10")
            serving, _ = process_memory(server.pid)
            reply = client.post(
                "/related", json={"title": "Flooding closes the harbour", "body": "Storm."}
            )
            reply.raise_for_status()
            with_model, _ = process_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    articles = int(ready["articles"])
    info = _manifest(index_dir)
    dimension = int(info["dimension"])
    hnsw = info.get("index_type") == "hnsw"
    return MemoryFigures(
        articles,
        started,
        serving,
        with_model,
        articles * dimension * 4,
        articles * _GRAPH_BYTES_PER_VECTOR if hnsw else 0,
        _model_bytes(),
    )


def _manifest(index_dir: Path) -> dict[str, object]:
    import json

    value = json.loads((index_dir / "newsrec-manifest.json").read_text(encoding="utf-8"))
    return dict(value)


def _model_bytes() -> int:
    from embeddings import bundled_model_path

    return sum(path.stat().st_size for path in bundled_model_path().rglob("*.safetensors"))
