"""Cost of ``--quality-filter``: the full export with and without it, alternated, on PostgreSQL.

Needs a database that holds the imported published data (``import_kokorochat``). Each export
is a ``manage.py export_kokorochat`` subprocess under ``/usr/bin/time``; the two kinds are
alternated ``--repeat`` times so that load on a shared machine hits both alike, and the
median wall times and their ratio are printed::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kokoro_dataset \\
        python bench/dataset_quality_bench.py [--repeat 3] [--format folder]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_export(out: Path, fmt: str, quality: bool) -> float:
    args = ["export_kokorochat", str(out), "--format", fmt, "--lang", "en"]
    args += ["--quality-filter"] if quality else []
    done = subprocess.run(
        ["/usr/bin/time", "-f", "__TIME__ %e", sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"export failed:\n{done.stdout}\n{done.stderr}")
    line = next(x for x in done.stderr.splitlines() if x.startswith("__TIME__"))
    return float(line.split()[1])


def load_average() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="folder", choices=["folder", "zip", "jsonl"])
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database holding the imported data")
    times: dict[str, list[float]] = {"plain": [], "quality": []}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for kind in ("plain", "quality") if i % 2 == 0 else ("quality", "plain"):
                out = Path(tmp) / f"{kind}-{i}" / ("out" if args.format == "folder" else f"out.{args.format}")
                loads.append(load_average())
                times[kind].append(timed_export(out, args.format, kind == "quality"))
                print(json.dumps({"run": i, "kind": kind, "wall_s": times[kind][-1], "load": loads[-1]}), flush=True)
    plain, quality = statistics.median(times["plain"]), statistics.median(times["quality"])
    print(
        json.dumps(
            {
                "format": args.format,
                "plain_median_s": plain,
                "quality_median_s": quality,
                "extra_percent": round(100 * (quality - plain) / plain, 1),
                "load_average_range": [min(loads), max(loads)],
            }
        )
    )


if __name__ == "__main__":
    main()
