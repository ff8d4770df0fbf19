"""Memory of the response cache under many distinct requests, with and without its byte bound.

    python -m tests.harness.cache_memory [--requests 12000] [--corpus seeds/articles.jsonl]

Indexes the corpus (hashing embedder) once, then for each cache setting runs a fresh app
in its own process and sends the same distinct explained related requests (every id, k
from 1 to 100, explain=true: the largest answers). Prints the process's resident memory
before and after and what the cache holds; the entry bound alone (10,000) is the state
before issue 18, the byte bound is NEWSREC_RESPONSE_CACHE_BYTES's default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from recommender import Settings, load_articles, open_index

_CHILD = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from recommender import Settings
from service.http.app import create_app
from service.settings import ServiceSettings

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")

index_dir, requests, cache_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
settings = Settings(index_dir=Path(index_dir), embedder="hashing")
service = ServiceSettings(access_log=False, response_cache_bytes=cache_bytes)
app = create_app(settings, service)
with TestClient(app) as client:
    live = app.state.live
    live.wait_ready(60)
    with live.reading() as snapshot:
        ids = list(snapshot.index.ids())
    before = rss_mb()
    sent = 0
    for k in range(1, 101):
        for article_id in ids:
            if sent == requests:
                break
            path = f"/articles/{article_id}/related"
            answer = client.get(path, params={"k": k, "explain": "true"})
            assert answer.status_code == 200, answer.text
            sent += 1
            if sent == 200:
                warm = rss_mb()  # the lazily built parts are built by now
    after = rss_mb()
    print(json.dumps({"requests": sent, "rss_before_mb": before, "rss_warm_mb": warm,
                      "rss_after_mb": after,
                      "cache_entries": len(live.cache._items),
                      "cache_mb": live.cache.cached_bytes / 2**20}))
"""


def measure(index_dir: Path, requests: int, cache_bytes: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(index_dir), str(requests), str(cache_bytes)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=12_000)
    parser.add_argument("--corpus", type=Path, default=Path("seeds/articles.jsonl"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsrec-cache-") as directory:
        index_dir = Path(directory) / "index"
        with open_index(Settings(index_dir=index_dir, embedder="hashing"), writable=True) as index:
            index.upsert(load_articles([args.corpus]).articles)
            index.save()
        for label, cache_bytes in (
            ("entries only (10,000), as before", 2**62),
            ("entries and 64 MiB (the default)", 64 * 2**20),
            ("no cache (0 bytes)", 0),
        ):
            result = measure(index_dir, args.requests, cache_bytes)
            print(
                f"{label}: {result['requests']:,} distinct requests, RSS "
                f"{result['rss_before_mb']:.0f} -> {result['rss_warm_mb']:.0f} after 200 -> "
                f"{result['rss_after_mb']:.0f} MB; cache "
                f"{result['cache_entries']:,} entries, {result['cache_mb']:.1f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
