"""Auto-scorer benchmark on the published KokoroChat data (read from KOKOROCHAT_DIR, never copied).

    KOKOROCHAT_DIR=/work/shared/kokorochat/kokorochat_dialogues \
    python bench/scorer_bench.py [--skip-eval] [--test-seeds 0,1] [--seeds 0,1,2,3,4] [--split random|client|counselor]
        [--with-ids] [--decoding round|offsets|cuts] [--screening ridge|logistic] [--out results.json]

Measures: reading the folder and training on the full data (90/10 train/validation, as `train_scorer`;
`read_and_train_cpu_seconds` is the issue-16 figure, ≤ 60 s), saving and
loading the versioned model file (with checksum); wall and CPU seconds and the load average
(the machine is shared: the CPU seconds are the comparable figure), the median time to score one 100-message
session (CPU backend, features included), and the paper's protocol (5 seeds × test seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kokoro_site.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from models_ml.scoring.artifacts import load_model, save_model  # noqa: E402
from models_ml.scoring.backends import CpuScorer  # noqa: E402
from models_ml.scoring.cpu import train_cpu_model  # noqa: E402
from models_ml.scoring.evaluation import evaluate_cpu, report_markdown  # noqa: E402
from models_ml.scoring.features import FeatureConfig  # noqa: E402
from models_ml.scoring.records import LabelledDialogue, load_folder  # noqa: E402


def hundred_message_sessions(records: list[LabelledDialogue], k: int) -> list[LabelledDialogue]:
    """Sessions cut to exactly 100 messages (from those that have at least 100)."""
    long = [r for r in records if len(r.messages) >= 100][:k]
    return [
        LabelledDialogue(
            session_key=r.session_key, messages=r.messages[:100], client_key=r.client_key, counselor_key=r.counselor_key
        )
        for r in long
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--folder",
        default=os.environ.get("KOKOROCHAT_DIR", str(ROOT.parent / "shared/kokorochat/kokorochat_dialogues")),
    )
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--test-seeds", default="0,1")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--out", default="")
    ap.add_argument("--split", default="random", choices=["random", "client", "counselor"])
    ap.add_argument("--with-ids", action="store_true", help="research: participant ids as features")
    ap.add_argument("--decoding", default="round", choices=["round", "offsets", "cuts"])
    ap.add_argument("--screening", default="ridge", choices=["ridge", "logistic"])
    args = ap.parse_args()
    config = FeatureConfig(use_ids=args.with_ids, decoding=args.decoding, screening=args.screening)
    out: dict = {}

    t, cpu = time.monotonic(), time.process_time()
    records = load_folder(args.folder)
    out["load_seconds"] = round(time.monotonic() - t, 1)
    out["load_cpu_seconds"] = round(time.process_time() - cpu, 1)
    out["sessions"] = len(records)
    print(f"loaded {len(records)} sessions in {out['load_seconds']} s", flush=True)

    order = list(range(len(records)))
    random.Random(0).shuffle(order)
    n_val = len(records) // 10
    val, train = [records[i] for i in order[:n_val]], [records[i] for i in order[n_val:]]
    t, cpu, load = time.monotonic(), time.process_time(), os.getloadavg()[0]
    model = train_cpu_model(train, val, config=config, log=lambda m: print("  " + m, flush=True))
    out["train_seconds"] = round(time.monotonic() - t, 1)
    out["train_cpu_seconds"] = round(time.process_time() - cpu, 1)
    out["load_average"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    # What `train_scorer --from-folder` spends before saving: reading the folder + training.
    out["read_and_train_seconds"] = round(out["load_seconds"] + out["train_seconds"], 1)
    out["read_and_train_cpu_seconds"] = round(out["load_cpu_seconds"] + out["train_cpu_seconds"], 1)
    out["config"] = config.as_dict()
    out["train_validation"] = model.info["validation"]
    print(
        f"trained on {len(train)} (+{len(val)} validation) in {out['train_seconds']} s wall, "
        f"{out['train_cpu_seconds']} s CPU (load {out['load_average']}): {model.info['validation']}",
        flush=True,
    )

    with tempfile.TemporaryDirectory() as tmp:
        settings.KOKORO_ARTIFACTS_DIR = Path(tmp)
        t = time.monotonic()
        path, digest = save_model(model, version="bench", manifest={})
        out["save_seconds"] = round(time.monotonic() - t, 2)
        out["model_file_mb"] = round(path.stat().st_size / 2**20, 1)
        t = time.monotonic()
        loaded = load_model(path, sha256=digest)
        out["load_model_seconds"] = round(time.monotonic() - t, 2)
    scorer = CpuScorer(loaded, "bench")
    sessions = hundred_message_sessions(records, 50)
    scorer.predict(sessions[0])  # warm-up
    times = []
    for i in range(args.runs):
        s = sessions[i % len(sessions)]
        t = time.perf_counter()
        scorer.predict(s)
        times.append((time.perf_counter() - t) * 1000)
    out["score_100_messages_ms"] = {
        "median": round(statistics.median(times), 1),
        "p95": round(sorted(times)[int(0.95 * len(times)) - 1], 1),
        "runs": len(times),
    }
    print(f"scoring a 100-message session: median {out['score_100_messages_ms']['median']} ms", flush=True)

    if not args.skip_eval:
        t, cpu = time.monotonic(), time.process_time()
        seeds = tuple(int(s) for s in args.seeds.split(","))
        results = []
        for ts in (int(s) for s in args.test_seeds.split(",")):
            res = evaluate_cpu(
                records,
                test_seed=ts,
                seeds=seeds,
                config=config,
                split=args.split,
                log=lambda m: print("  " + m, flush=True),
            )
            results.append(res)
            a = res["average"]
            print(
                f"test seed {ts}: ACC {a['acc']['mean']:.2f}±{a['acc']['std']:.2f} ACC_soft "
                f"{a['acc_soft']['mean']:.2f}±{a['acc_soft']['std']:.2f} MAE {a['mae']['mean']:.4f}±{a['mae']['std']:.4f} "
                f"({res['wall_seconds']} s)",
                flush=True,
            )
        out["evaluation_seconds"] = round(time.monotonic() - t, 1)
        out["evaluation_cpu_seconds"] = round(time.process_time() - cpu, 1)
        out["evaluation"] = [{k: v for k, v in r.items() if k != "runs"} for r in results]
        out["report_markdown"] = report_markdown(results)
    if args.out:
        Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k not in ("evaluation", "report_markdown")}, indent=2))


if __name__ == "__main__":
    main()
