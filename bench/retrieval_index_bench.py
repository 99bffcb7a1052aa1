"""Time the retrieval partner's index build from a folder of KokoroChat-format JSON files (a benchmark:
the platform builds its index in one place, ``manage.py build_retrieval_index`` / the retrieval-index job).

    python bench/retrieval_index_bench.py --src "$KOKOROCHAT_DIR" --out /tmp/counselor.joblib
    python bench/retrieval_index_bench.py --src ... --out ... --role client

Prints a JSON summary: dialogues read, replies indexed, build/load seconds, index size, query latency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models_ml.llm.backends.retrieval import DEFAULT_CONTEXT_TURNS, RetrievalBackend

PROBE = [{"role": "user", "content": "最近仕事がうまくいかなくて、夜も眠れないんです。"}]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", default=os.environ.get("KOKOROCHAT_DIR"), help="folder of *.json dialogues")
    parser.add_argument("--out", required=True, help="index file to write (joblib)")
    parser.add_argument("--role", default="counselor", choices=["counselor", "client"])
    parser.add_argument("--context-turns", type=int, default=DEFAULT_CONTEXT_TURNS)
    args = parser.parse_args(argv)
    if not args.src or not Path(args.src).is_dir():
        parser.error("--src (or KOKOROCHAT_DIR) must be a folder of dialogue JSON files")
    start = time.perf_counter()
    records = [
        dict(json.loads(p.read_text(encoding="utf-8")), id=p.stem) for p in sorted(Path(args.src).glob("*.json"))
    ]
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    backend = RetrievalBackend.from_records(records, role=args.role, context_turns=args.context_turns)
    build_s = time.perf_counter() - start
    path = backend.save(args.out)
    start = time.perf_counter()
    loaded = RetrievalBackend.load(path)
    load_s = time.perf_counter() - start
    latencies = []
    for _ in range(20):
        start = time.perf_counter()
        loaded.generate(PROBE)
        latencies.append(time.perf_counter() - start)
    summary = {
        "dialogues": len(records),
        "indexed_replies": len(backend.replies),
        "role": args.role,
        "read_s": round(read_s, 1),
        "build_s": round(build_s, 1),
        "index_mb": round(path.stat().st_size / 1e6, 1),
        "load_s": round(load_s, 2),
        "query_ms_median": round(statistics.median(latencies) * 1000, 1),
        "query_ms_max": round(max(latencies) * 1000, 1),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
