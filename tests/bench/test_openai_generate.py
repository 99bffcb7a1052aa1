"""bench/openai_generate.py against the shared localhost OpenAI-compatible server, paced like a model."""

import importlib.util
import json
from pathlib import Path

import pytest

from tests.openai_stub import OpenAIStub

BENCH = Path(__file__).resolve().parents[2] / "bench" / "openai_generate.py"
FIRST_DELAY_S = 0.15
INTERVAL_S = 0.01
TOKENS = 20


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("openai_generate", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def paced():
    reply = ["字"] * TOKENS
    with OpenAIStub(
        lambda body: reply[: body["max_tokens"]], first_delay_s=FIRST_DELAY_S, chunk_interval_s=INTERVAL_S
    ) as stub:
        yield stub


def run(bench, paced, tmp_path, *extra):
    out = tmp_path / "report.json"
    args = ["--base-url", paced.base_url, "--model", "kokoro", "--new-tokens", str(TOKENS), "--runs", "2"]
    report = bench.main([*args, "--out", str(out), *extra])
    assert json.loads(out.read_text()) == report
    return report


def test_time_to_first_token_and_decode_rate_follow_the_servers_pace(bench, paced, tmp_path):
    report = run(bench, paced, tmp_path, "--concurrency", "1")
    assert report["tokens_counted_by"] == "usage" and report["tokens_median"] == TOKENS
    assert FIRST_DELAY_S * 1000 <= report["ttft_ms_median"] < FIRST_DELAY_S * 1000 + 500
    # 19 tokens after the first, each at least INTERVAL_S apart: never faster than 1 / INTERVAL_S.
    assert 5 < report["decode_tokens_per_s_median"] <= 1 / INTERVAL_S
    assert report["backend_stream"]["deltas"] == TOKENS
    assert report["backend_stream"]["ttft_ms"] >= FIRST_DELAY_S * 1000


def test_requests_ask_for_exactly_the_new_tokens_and_for_server_counted_usage(bench, paced, tmp_path):
    paced.requests.clear()
    run(bench, paced, tmp_path, "--concurrency", "2")
    timed = [r for r in paced.requests if r.get("stream_options")]
    assert len(timed) == 1 + 2 + 2  # warm-up, sequential runs, one concurrent round
    assert timed[0]["max_tokens"] == 8
    assert all(r["max_tokens"] == r["min_tokens"] == TOKENS and r["ignore_eos"] for r in timed[1:])
    assert all(r["stream_options"] == {"include_usage": True} and r["stream"] for r in timed)


def test_concurrent_requests_overlap(bench, paced, tmp_path):
    report = run(bench, paced, tmp_path, "--concurrency", "1,4")
    single, four = report["concurrent"]
    assert (single["concurrency"], four["concurrency"]) == (1, 4)
    # Four paced streams served in parallel deliver well over twice the tokens per second of one.
    assert four["aggregate_tokens_per_s"] > 2 * single["aggregate_tokens_per_s"]


def test_an_endpoint_that_streams_nothing_is_a_clear_error(bench, tmp_path):
    with OpenAIStub(lambda body: []) as stub:
        with pytest.raises(RuntimeError, match="streamed no content"):
            bench.main(["--base-url", stub.base_url, "--model", "m", "--runs", "1", "--out", str(tmp_path / "x")])
