"""What the Qdrant backend costs on this side of the wire (this machine has no Qdrant server).

    python -m eval.bench.qdrant_wire migrate INDEX_DIR [--batch 1024] [--limit N]
    python -m eval.bench.qdrant_wire retrieve [--points 400] [--dimension 384] [--repeat 5]

`migrate`: streams an index's points from its SQLite store as `newsrec migrate --to qdrant`
does and builds and serialises each upsert as qdrant-client's REST transport sends it: points
per second for each half, and JSON bytes per point. The server's side is not in it.

`retrieve`: decodes one REST `retrieve` response of `--points` vectors with their payload as
qdrant-client does (json, then its pydantic models): what a related request pays when it
fetches its ~400 candidates' vectors from Qdrant to rescore them.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from qdrant_client import models

from recommender.dates import PublishedTime
from recommender.index.files import STORE_FILE
from recommender.index.store import ArticleStore
from recommender.index.vectors.qdrant_index import point_payload


def bench_migrate(
    directory: Path, *, batch: int = 1024, limit: int | None = None
) -> dict[str, float]:
    store = ArticleStore(directory / STORE_FILE)
    try:
        dimension = int(store.meta()["dimension"])
        points = body_bytes = 0
        read_seconds = serialise_seconds = 0.0
        mark = time.perf_counter()
        for rows in store.point_rows(dimension, batch=batch):
            started = time.perf_counter()
            read_seconds += started - mark
            published = [
                None if math.isnan(start) else PublishedTime(float(start), float(end))
                for start, end in zip(rows.starts, rows.ends, strict=True)
            ]
            request = models.PointsBatch(
                batch=models.Batch(
                    ids=[int(row_id) for row_id in rows.row_ids],
                    vectors=rows.vectors.tolist(),
                    payloads=[
                        point_payload(p, t) for p, t in zip(published, rows.topics, strict=True)
                    ],
                )
            )
            body_bytes += len(request.model_dump_json(exclude_unset=True))
            points += len(rows.row_ids)
            mark = time.perf_counter()
            serialise_seconds += mark - started
            if limit is not None and points >= limit:
                break
    finally:
        store.close()
    return {
        "points": points,
        "store read points/s": round(points / read_seconds),
        "build + serialise points/s": round(points / serialise_seconds),
        "JSON bytes/point": round(body_bytes / points),
    }


def bench_retrieve(*, points: int = 400, dimension: int = 384, repeat: int = 5) -> dict[str, float]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((points, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    payload = point_payload(PublishedTime(1.7e9, 1.7e9), ("politics",))
    body = json.dumps(
        {
            "result": [
                {"id": i, "payload": payload, "vector": vector.tolist()}
                for i, vector in enumerate(vectors)
            ],
            "status": "ok",
            "time": 0.001,
        }
    )
    cpu = []
    for _ in range(repeat):
        started = time.process_time()
        records = [models.Record.model_validate(item) for item in json.loads(body)["result"]]
        np.asarray([record.vector for record in records], dtype=np.float32)
        cpu.append(time.process_time() - started)
    return {
        "points": points,
        "response bytes": len(body),
        "decode CPU ms (median)": round(1000 * float(np.median(cpu)), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.qdrant_wire")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser("migrate")
    migrate.add_argument("index_dir", type=Path)
    migrate.add_argument("--batch", type=int, default=1024)
    migrate.add_argument("--limit", type=int, default=None)
    retrieve = commands.add_parser("retrieve")
    retrieve.add_argument("--points", type=int, default=400)
    retrieve.add_argument("--dimension", type=int, default=384)
    retrieve.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "migrate":
        report = bench_migrate(args.index_dir, batch=args.batch, limit=args.limit)
    else:
        report = bench_retrieve(points=args.points, dimension=args.dimension, repeat=args.repeat)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
