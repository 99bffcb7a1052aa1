"""Generation latency of the ``hf`` backend: time to first token and decode tokens/s (timed per token on the
backend's loaded model and chat-templated inputs), plus one request through ``backend.stream``.

Model: Llama-3.1-8B's exact shape with random weights (written locally, no download; see gpu_common.py),
4-bit NF4 on CUDA (bfloat16 compute), optionally with a LoRA adapter (``--adapter``, e.g. the output of
gpu_qlora_train.py). A fixed-length decode (min_new_tokens = max_new_tokens) makes tokens/s well defined even
though random weights produce random text.

    python bench/gpu_generate.py --new-tokens 256 --runs 5     # on a CUDA machine
    python bench/gpu_generate.py --tiny --new-tokens 16 --runs 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu_common import LLAMA31_8B_SHAPE, TINY_SHAPE, gpu_info, history, write_random_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--adapter", default=None, help="LoRA adapter directory (optional)")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--turns", type=int, default=20, help="client turns of context in the prompt")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bf16", action="store_true", help="unquantised bf16 base (default: 4-bit NF4 on CUDA)")
    parser.add_argument("--merge", action="store_true", help="fold the adapter into the bf16 weights (needs --bf16)")
    parser.add_argument(
        "--static-cache", action="store_true", help="static KV cache: generate() compiles the decoding step"
    )
    parser.add_argument(
        "--concurrency",
        default="1",
        help="comma-separated batch sizes: c identical requests decoded together in one generate() call "
        "(what a batching server does; the hf backend itself serves one request at a time)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import torch

    from models_ml.llm.backends.hf import HFBackend

    shape = TINY_SHAPE if args.tiny else LLAMA31_8B_SHAPE
    model_dir = Path(
        args.model_dir or Path(tempfile.gettempdir()) / ("kokoro-tiny" if args.tiny else "kokoro-llama31-8b-random")
    )
    write_random_model(model_dir, shape)
    backend = HFBackend(
        str(model_dir),
        args.adapter,
        load_in_4bit=False if args.bf16 else None,
        merge_adapter=args.merge,
        static_cache=args.static_cache,
    )
    t0 = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - t0
    messages = history(args.turns)
    prompt_tokens = len(backend._tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))
    params = {"do_sample": False, "max_new_tokens": args.new_tokens, "min_new_tokens": args.new_tokens}
    warm = params if args.static_cache else {**params, "max_new_tokens": 4, "min_new_tokens": 4}
    t0 = time.perf_counter()
    list(backend.stream(messages, **warm))  # warm-up (with a static cache: the compilation, timed below)
    warmup_s = time.perf_counter() - t0
    # Random weights sample token ids the bench tokenizer cannot spell (its vocabulary is far smaller than
    # 128256), so text deltas are not a usable clock: time the tokens themselves with a streamer on the same
    # model and inputs the backend uses.
    from transformers.generation.streamers import BaseStreamer

    class TokenClock(BaseStreamer):
        def __init__(self):
            self.times: list[float] = []
            self.prompt_seen = False

        def put(self, value):
            if not self.prompt_seen:  # generate() first puts the prompt
                self.prompt_seen = True
                return
            self.times.append(time.perf_counter())

        def end(self):
            pass

    inputs = backend.encode(messages)
    pad = backend.tokenizer.pad_token_id

    def timed(batch: int) -> tuple[float, float]:
        clock = TokenClock()
        batch_inputs = {k: v.repeat(batch, 1) for k, v in inputs.items()}
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            backend.model.generate(**batch_inputs, streamer=clock, pad_token_id=pad, **params)
        return clock.times[0] - start, (len(clock.times) - 1) / max(clock.times[-1] - clock.times[0], 1e-9)

    levels = {}
    for batch in [int(c) for c in args.concurrency.split(",")]:
        runs = [timed(batch) for _ in range(args.runs if batch == 1 else max(1, args.runs // 2))]
        per_stream = statistics.median(r[1] for r in runs)
        levels[str(batch)] = {
            "runs": len(runs),
            "ttft_ms_median": round(statistics.median(r[0] for r in runs) * 1000, 1),
            "decode_tokens_per_s_per_stream": round(per_stream, 1),
            "decode_tokens_per_s_total": round(per_stream * batch, 1),
        }
    ttft = [levels["1"]["ttft_ms_median"] / 1000] if "1" in levels else [float("nan")]
    rates = [levels["1"]["decode_tokens_per_s_per_stream"]] if "1" in levels else [float("nan")]
    # The same request through the public streaming API (includes detokenisation and the thread hand-off).
    start = time.perf_counter()
    stream_deltas = sum(1 for _ in backend.stream(messages, **params))
    stream_s = time.perf_counter() - start
    report = {
        "benchmark": "hf_generate",
        "shape": "tiny" if args.tiny else "llama-3.1-8b",
        "quantized_4bit": bool(torch.cuda.is_available()) and not args.bf16,
        "merged_adapter": args.merge,
        "static_cache": args.static_cache,
        "warmup_s": round(warmup_s, 1),
        "adapter": bool(args.adapter),
        "prompt_tokens": prompt_tokens,
        "new_tokens": args.new_tokens,
        "runs": args.runs,
        "load_s": round(load_s, 1),
        "ttft_ms_median": round(statistics.median(ttft) * 1000, 1),
        "decode_tokens_per_s_median": round(statistics.median(rates), 1),
        "concurrency": levels,
        "stream_api_total_s": round(stream_s, 2),
        "stream_api_deltas": stream_deltas,
        **gpu_info(),
    }
    if torch.cuda.is_available():
        report["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
