"""The GPU benchmark scripts on their tiny model and the CPU: the code a GPU machine runs stays working."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def script(name: str, *args: str, out: Path) -> dict:
    cmd = [sys.executable, str(BENCH / name), "--tiny", *args, "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert json.loads(done.stdout[done.stdout.index("{") :]) == report
    return report


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    model, adapter = base / "model", base / "adapter"
    report = script(
        "gpu_qlora_train.py",
        *("--model-dir", str(model), "--steps", "5", "--warmup", "1", "--records", "20", "--profile-steps", "2"),
        *("--save-adapter", str(adapter)),
        out=base / "train.json",
    )
    return model, adapter, report


def test_qlora_bench_trains_the_requested_steps_and_reports_throughput(trained):
    model, adapter, report = trained
    # steps 1-3 are timed (after 1 warm-up step), the last 2 are profiled and left out of the throughput
    assert (report["shape"], report["steps"], report["timed_steps"]) == ("tiny", 5, 2)
    assert report["tokens_per_s"] > 0 and report["s_per_step"] > 0
    assert report["batch_size"] == 8 and report["max_length"] == 2048  # the paper's response-task settings
    assert (model / "model.safetensors.index.json").is_file()
    assert (adapter / "adapter_config.json").is_file()


def test_qlora_bench_reports_mfu_and_a_profile_of_the_last_steps(trained):
    _, _, report = trained
    assert report["profile"]["first_step"] == 4
    top = report["profile"]["top"]
    assert top and all(row["name"].startswith("aten::") and row["self_ms"] > 0 for row in top)
    assert abs(sum(row["share"] for row in top) - 1) < 0.5  # the top rows are most of the time, none counted twice
    assert {"mfu_lora", "mfu_6n", "forward_gflop_per_token"} <= report.keys()


def test_mfu_counts_llama31_8b_matmul_weights_and_both_conventions():
    sys.path.insert(0, str(BENCH))
    from gpu_common import LLAMA31_8B_SHAPE
    from gpu_qlora_train import matmul_params, mfu

    # 32 x (2*4096^2 + 2*4096*1024 + 3*4096*14336) + 4096*128256: every weight but the embedding lookup
    assert matmul_params(LLAMA31_8B_SHAPE) == 7_504_658_432
    got = mfu(LLAMA31_8B_SHAPE, tokens_per_s=3270.9, seq_len=775.7, peak_tflops=989.4)
    assert got["forward_gflop_per_token"] == 15.21  # 2 N + 2 L d S
    assert (got["mfu_lora"], got["mfu_6n"]) == (0.1006, 0.1509)  # the 2026-11-30 H200 run (docs/benchmarks.md)


def test_generation_bench_times_a_fixed_length_decode_with_the_trained_adapter(trained, tmp_path):
    model, adapter, _ = trained
    report = script(
        "gpu_generate.py",
        *("--model-dir", str(model), "--adapter", str(adapter), "--new-tokens", "6", "--runs", "2", "--turns", "3"),
        out=tmp_path / "gen.json",
    )
    assert report["adapter"] is True and report["new_tokens"] == 6 and report["runs"] == 2
    assert report["prompt_tokens"] > 50
    assert 0 < report["ttft_ms_median"] < 60_000 and report["decode_tokens_per_s_median"] > 0
