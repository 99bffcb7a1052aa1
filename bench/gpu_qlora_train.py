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


def matmul_params(shape: dict) -> int:
    """Weights that take part in a matrix product per token (the embedding lookup does not; the LM head does)."""
    d, inter, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = d * shape["num_key_value_heads"] // shape["num_attention_heads"]
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * inter
    return layers * per_layer + d * shape["vocab_size"]


def mfu(shape: dict, tokens_per_s: float, seq_len: float, peak_tflops: float) -> dict:
    """Model FLOPs utilisation of QLoRA training, two conventions (docs/benchmarks.md):

    forward F = 2 N_matmul + 2 L d S (causal attention scores and values, S = mean sequence length).
    - ``mfu_lora``: F + F (forward, then the gradient w.r.t. the activations; the 4-bit base is frozen, so no
      weight gradients: the LoRA ones are negligible). What this training must compute.
    - ``mfu_6n``: 3F, the full fine-tuning convention (PaLM's 6N), the usual basis of published MFU figures;
      with gradient checkpointing it also equals the hardware FLOPs of the LoRA run (forward recomputed).
    """
    forward = 2 * matmul_params(shape) + 2 * shape["num_hidden_layers"] * shape["hidden_size"] * seq_len
    peak = peak_tflops * 1e12
    return {
        "forward_gflop_per_token": round(forward / 1e9, 2),
        "peak_tflops_used": peak_tflops,
        "achieved_tflops_lora": round(tokens_per_s * 2 * forward / 1e12, 1),
        "mfu_lora": round(tokens_per_s * 2 * forward / peak, 4),
        "mfu_6n": round(tokens_per_s * 3 * forward / peak, 4),
    }


class StepProfiler:
    """A TrainerCallback that runs torch.profiler over the steps from ``first_step`` to the end of training
    and keeps the kernels that took the most device time (CPU time on a machine without CUDA)."""

    def __new__(cls, first_step: int):
        from transformers import TrainerCallback

        class _Profiler(TrainerCallback):
            def __init__(self):
                self.prof = None
                self.rows: list[dict] = []

            def on_step_begin(self, args, state, control, **kw):
                import torch
                from torch.profiler import ProfilerActivity, profile

                if self.prof is None and state.global_step + 1 >= first_step:
                    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
                    self.prof = profile(activities=acts)
                    self.prof.__enter__()

            def on_step_end(self, args, state, control, **kw):
                if state.global_step >= state.max_steps:
                    self.stop()

            def on_train_end(self, args, state, control, **kw):
                self.stop()

            def stop(self):
                if self.prof is None or self.rows:
                    return
                import torch

                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.prof.__exit__(None, None, None)
                cuda = torch.cuda.is_available()
                # Operator rows (aten::mm) and the kernels they launch both carry device time: keep the operators
                # only, so that no time is counted twice (the first H200 run, 2026-11-30, listed both levels).
                events = [
                    e
                    for e in self.prof.key_averages()
                    if e.key.startswith("aten::") and (e.self_device_time_total if cuda else e.self_cpu_time_total)
                ]
                key = (lambda e: e.self_device_time_total) if cuda else (lambda e: e.self_cpu_time_total)
                total = sum(key(e) for e in events) or 1
                for e in sorted(events, key=key, reverse=True)[:15]:
                    self.rows.append(
                        {
                            "name": e.key[:90],
                            "self_ms": round(key(e) / 1000, 2),
                            "share": round(key(e) / total, 4),
                            "calls": e.count,
                        }
                    )

            def summary(self) -> dict:
                return {"first_step": first_step, "top": self.rows}

        return _Profiler()


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
    parser.add_argument(
        "--profile-steps", type=int, default=2, help="profile the last N steps with torch.profiler (not timed)"
    )
    parser.add_argument("--peak-tflops", type=float, default=989.4, help="bf16 dense peak for MFU (H100/H200 SXM)")
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
    profiler = StepProfiler(first_step=args.steps - args.profile_steps + 1) if args.profile_steps > 0 else None

    def progress(step: int, total: int, logs: dict) -> None:
        if "num_tokens" in logs and "loss" in logs:
            marks.append((time.perf_counter(), step, float(logs["num_tokens"])))

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    out_dir = Path(args.save_adapter) if args.save_adapter else Path(tempfile.mkdtemp(prefix="qlora-bench-"))
    with Timer() as t_total:
        result = train(
            job,
            bench_records(args.records),
            out_dir,
            progress_cb=progress,
            extra_callbacks=[profiler] if profiler else [],
        )
    timed_end = args.steps - args.profile_steps if profiler else args.steps
    warm = [m for m in marks if args.warmup <= m[1] <= timed_end] or marks
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
    report.update(mfu(shape, report["tokens_per_s"], report["mean_tokens_per_example"], args.peak_tflops))
    if profiler is not None:
        report["profile"] = profiler.summary()
    if torch.cuda.is_available():
        report["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
        report["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 1024**3, 2)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
