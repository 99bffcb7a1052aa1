"""Time to first token and decode tokens/s of an OpenAI-compatible endpoint (a vLLM server, or anything the
``openai`` generation backend can use), one request at a time and with concurrent requests, plus one request
through the backend itself (``OpenAIBackend.stream``: what a practice session runs).

    vllm serve /tmp/kokoro-llama31-8b-random --served-model-name kokoro --port 8011 &   # on a GPU machine
    python bench/openai_generate.py --base-url http://127.0.0.1:8011/v1 --model kokoro --new-tokens 256

The prompt is gpu_generate.py's (system prompt + a 20-turn history). Requests ask for exactly ``--new-tokens``
tokens (``min_tokens``/``ignore_eos``, vLLM's extensions; other servers ignore them) and for the usage block,
so tokens are counted by the server; without one, content deltas are counted instead (``tokens_counted_by``).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import history


def one_request(client, model: str, messages: list[dict], new_tokens: int) -> dict:
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        max_tokens=new_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"min_tokens": new_tokens, "ignore_eos": True},
    )
    stamps: list[float] = []
    usage_tokens = None
    for chunk in stream:
        if chunk.usage is not None:
            usage_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices or ():
            if choice.delta and choice.delta.content:
                stamps.append(time.perf_counter())
    if not stamps:
        raise RuntimeError("the endpoint streamed no content")
    tokens = usage_tokens if usage_tokens is not None else len(stamps)
    return {
        "ttft_s": stamps[0] - start,
        "total_s": stamps[-1] - start,
        "tokens": tokens,
        "by_usage": usage_tokens is not None,
        # Tokens after the first, over the time after the first: the decode rate one client sees.
        "decode_tokens_per_s": (tokens - 1) / max(stamps[-1] - stamps[0], 1e-9),
    }


def concurrent(client, model: str, messages: list[dict], new_tokens: int, n: int) -> dict:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(lambda _: one_request(client, model, messages, new_tokens), range(n)))
    wall = time.perf_counter() - start
    ttfts = sorted(r["ttft_s"] for r in results)
    return {
        "concurrency": n,
        "aggregate_tokens_per_s": round(sum(r["tokens"] for r in results) / wall, 1),
        "ttft_ms_median": round(statistics.median(ttfts) * 1000, 1),
        "ttft_ms_max": round(ttfts[-1] * 1000, 1),
        "per_request_decode_tokens_per_s_median": round(
            statistics.median(r["decode_tokens_per_s"] for r in results), 1
        ),
    }


def through_backend(base_url: str, model: str, messages: list[dict], new_tokens: int, api_key: str | None) -> dict:
    from models_ml.llm.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(base_url, model, api_key=api_key, timeout=300)
    start = time.perf_counter()
    first = None
    deltas = 0
    for _ in backend.stream(messages, max_new_tokens=new_tokens, temperature=0):
        first = first or time.perf_counter()
        deltas += 1
    end = time.perf_counter()
    return {"ttft_ms": round(((first or end) - start) * 1000, 1), "total_s": round(end - start, 3), "deltas": deltas}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8011/v1")
    parser.add_argument("--model", required=True, help="the served model name")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--turns", type=int, default=20, help="client turns of context in the prompt")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5, help="sequential requests (after one warm-up)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated numbers of parallel requests")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import openai

    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key or "not-needed", timeout=300, max_retries=0)
    messages = history(args.turns)
    one_request(client, args.model, messages, min(8, args.new_tokens))  # warm-up
    runs = [one_request(client, args.model, messages, args.new_tokens) for _ in range(args.runs)]
    report = {
        "benchmark": "openai_generate",
        "base_url": args.base_url,
        "model": args.model,
        "new_tokens": args.new_tokens,
        "runs": args.runs,
        "tokens_counted_by": "usage" if all(r["by_usage"] for r in runs) else "content deltas",
        "tokens_median": statistics.median(r["tokens"] for r in runs),
        "ttft_ms_median": round(statistics.median(r["ttft_s"] for r in runs) * 1000, 1),
        "decode_tokens_per_s_median": round(statistics.median(r["decode_tokens_per_s"] for r in runs), 1),
        "concurrent": [
            concurrent(client, args.model, messages, args.new_tokens, int(n)) for n in args.concurrency.split(",") if n
        ],
        "backend_stream": through_backend(args.base_url, args.model, messages, args.new_tokens, args.api_key),
    }
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return report


if __name__ == "__main__":
    main()
