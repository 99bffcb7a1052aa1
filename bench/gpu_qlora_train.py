"""QLoRA training throughput and peak GPU memory at the KokoroChat paper's settings.

Model: Llama-3.1-8B's exact shape (hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads,
vocab 128256, rope theta 500000) with random weights written locally (no download), loaded in 4-bit NF4 with
bfloat16 compute; LoRA r=8/alpha=16/dropout 0.05 on all projections; adamw_8bit, batch 8, lr 1e-3 — i.e.
``JobConfig(task="response")`` defaults, run through ``models_ml.llm.training.train`` for ``--steps`` updates.

    python bench/gpu_qlora_train.py --steps 30                 # on a CUDA machine (needs ~17 GB of disk)
    python bench/gpu_qlora_train.py --tiny --steps 4           # CPU smoke test of the script

Prints one JSON object: tokens/s (non-padding tokens seen per second, after --warmup steps), seconds per
step, peak GPU memory allocated/reserved.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import LLAMA31_8B_SHAPE, TINY_SHAPE, Timer, bench_records, gpu_info, write_random_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=None, help="where the random base model is written (reused)")
    parser.add_argument("--tiny", action="store_true", help="tiny model: CPU smoke test of this script")
    parser.add_argument("--task", default="response", choices=["response", "score"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps excluded from the throughput")
    parser.add_argument("--records", type=int, default=120)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--save-adapter", default=None, help="keep the trained adapter in this directory")
    parser.add_argument("--out", default=None, help="also write the JSON result here")
    args = parser.parse_args()

    import torch

    from models_ml.llm.config import JobConfig, TrainingConfig
    from models_ml.llm.training import train

    shape = TINY_SHAPE if args.tiny else LLAMA31_8B_SHAPE
    model_dir = Path(
        args.model_dir or Path(tempfile.gettempdir()) / ("kokoro-tiny" if args.tiny else "kokoro-llama31-8b-random")
    )
    with Timer() as t_write:
        write_random_model(model_dir, shape)
    job = JobConfig(
        base_model=str(model_dir),
        task=args.task,
        training=TrainingConfig.for_task(
            args.task,
            max_steps=args.steps,
            logging_steps=1,
            max_length=args.max_length,
            gradient_checkpointing=args.gradient_checkpointing,
            eval_steps=10**6,  # validation is not what we time
        ),
    )
    marks: list[tuple[float, int, float]] = []  # (time, step, cumulative tokens)

    def progress(step: int, total: int, logs: dict) -> None:
        if "num_tokens" in logs and "loss" in logs:
            marks.append((time.perf_counter(), step, float(logs["num_tokens"])))

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    out_dir = Path(args.save_adapter) if args.save_adapter else Path(tempfile.mkdtemp(prefix="qlora-bench-"))
    with Timer() as t_total:
        result = train(job, bench_records(args.records), out_dir, progress_cb=progress)
    warm = [m for m in marks if m[1] >= args.warmup] or marks
    first, last = warm[0], warm[-1]
    seconds = max(last[0] - first[0], 1e-9)
    report = {
        "benchmark": "qlora_train",
        "shape": "tiny" if args.tiny else "llama-3.1-8b",
        "task": args.task,
        "steps": result.metrics.get("global_step"),
        "timed_steps": last[1] - first[1],
        "batch_size": job.training.per_device_train_batch_size,
        "max_length": args.max_length,
        "optimizer": result.metrics.get("optimizer"),
        "gradient_checkpointing": args.gradient_checkpointing,
        "tokens_per_s": round((last[2] - first[2]) / seconds, 1),
        "mean_tokens_per_example": round(last[2] / max(1, last[1] * job.training.per_device_train_batch_size), 1),
        "s_per_step": round(seconds / max(1, last[1] - first[1]), 3),
        "train_loss": result.metrics.get("train_loss"),
        "write_model_s": round(t_write.seconds, 1),
        "total_s": round(t_total.seconds, 1),
        **gpu_info(),
    }
    if torch.cuda.is_available():
        report["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
        report["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 1024**3, 2)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
