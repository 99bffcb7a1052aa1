"""Shared helpers of the GPU benchmarks: a local "base model" with Llama-3.1-8B's exact shape and random
weights (no download), a tokenizer trained on the spot, and benchmark dialogue records.

The weights are written shard by shard: the model is built on the meta device only to enumerate parameter
names and shapes, each tensor is filled with N(0, 0.02) (on the GPU when there is one) and saved with
safetensors. ``from_pretrained(..., quantization_config=NF4)`` then quantises it exactly like a real
checkpoint, so training and generation go through the same code as production.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

LLAMA31_8B_SHAPE = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "rope_theta": 500000.0,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}
TINY_SHAPE = {  # CPU smoke test of the scripts themselves
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 2048,
    "rope_theta": 500000.0,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
}
SHARD_BYTES = 2 * 1024**3

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]

# Invented sentences (never dataset text) for synthetic dialogues and the tokenizer.
COUNSELOR = [
    "こんにちは、今日はどのようなご相談でしょうか。",
    "そうだったのですね、それはとてもつらかったですね。",
    "もう少し詳しく教えていただけますか。",
    "その時、どんなお気持ちになりましたか。",
    "ご自分を責める気持ちがあるのですね。",
    "これまで一人でよく頑張ってこられましたね。",
    "次の一歩として、できそうなことを一緒に考えてみましょう。",
]
CLIENT = [
    "最近、仕事のことで夜あまり眠れなくて。",
    "上司に相談したいのですが、なかなか言い出せません。",
    "家族にも心配をかけたくなくて、誰にも話していないんです。",
    "自分が弱いだけなのかなと思ってしまいます。",
    "友だちとの関係もぎくしゃくしていて、学校に行くのがつらいです。",
    "話してみたら、少し気持ちが軽くなった気がします。",
]


def build_tokenizer(vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((COUNSELOR + CLIENT) * 5, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|end|>", pad_token="<|pad|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def write_random_model(path: Path, shape: dict, *, seed: int = 0) -> Path:
    """Write config.json + random bf16 safetensors shards + tokenizer into ``path`` (skipped if present)."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    if (path / "model.safetensors.index.json").is_file():
        return path
    # A small vocabulary (bytes + a few hundred merges, ~2 tokens per Japanese character) keeps sequences
    # long like real dialogues; a large one would learn the few invented sentences as single tokens.
    tokenizer = build_tokenizer(512)
    config = LlamaConfig(
        **shape,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="bfloat16",
    )
    with torch.device("meta"):
        meta_model = LlamaForCausalLM(config)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(seed)
    shard: dict[str, torch.Tensor] = {}
    shard_bytes, shard_no, weight_map, total = 0, 0, {}, 0

    def flush() -> None:
        nonlocal shard, shard_bytes, shard_no
        if not shard:
            return
        shard_no += 1
        name = f"model-{shard_no:05d}.safetensors"
        save_file(shard, str(path / name), metadata={"format": "pt"})
        for key in shard:
            weight_map[key] = name
        shard, shard_bytes = {}, 0

    for name, param in meta_model.state_dict().items():
        if name.endswith("norm.weight"):
            tensor = torch.ones(param.shape, dtype=torch.bfloat16)
        else:
            tensor = (
                torch.empty(param.shape, dtype=torch.bfloat16, device=device).normal_(0.0, 0.02, generator=gen).cpu()
            )
        shard[name] = tensor
        shard_bytes += tensor.numel() * 2
        total += tensor.numel() * 2
        if shard_bytes >= SHARD_BYTES:
            flush()
    flush()
    # Shards are numbered as we go; rename to the "-of-N" convention transformers expects.
    renamed = {}
    for old in sorted(set(weight_map.values())):
        new = old.replace(".safetensors", f"-of-{shard_no:05d}.safetensors")
        os.replace(path / old, path / new)
        renamed[old] = new
    index = {"metadata": {"total_size": total}, "weight_map": {k: renamed[v] for k, v in weight_map.items()}}
    (path / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    config.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def bench_records(n: int = 200, *, seed: int = 0, turns: int = 20) -> list[dict]:
    """Dialogue records for the benchmark: from KOKOROCHAT_DIR when set (read in place, never copied), else
    synthetic ones built from invented sentences."""
    src = os.environ.get("KOKOROCHAT_DIR")
    if src and Path(src).is_dir():
        files = sorted(Path(src).glob("*.json"))[:n]
        return [dict(json.loads(f.read_text(encoding="utf-8")), id=f.stem) for f in files]
    rng = random.Random(seed)
    records = []
    for i in range(n):
        dialogue = [{"role": "counselor", "time": "", "utterance": COUNSELOR[0]}]
        for _ in range(turns):
            dialogue.append({"role": "client", "time": "", "utterance": "".join(rng.sample(CLIENT, 2))})
            dialogue.append({"role": "counselor", "time": "", "utterance": "".join(rng.sample(COUNSELOR[1:], 2))})
        score = 99 if i % 20 == 0 else rng.randint(40, 98)
        records.append(
            {"id": f"b{i:04d}", "dialogue": dialogue, "items": [rng.randint(0, 5) for _ in range(20)], "score": score}
        )
    return records


def history(turns: int) -> list[dict]:
    """A counselor-model prompt: the system prompt and ``turns`` client turns (the last one unanswered)."""
    from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT

    messages = [{"role": "system", "content": COUNSELOR_SYSTEM_PROMPT}]
    for i in range(turns):
        messages.append({"role": "user", "content": CLIENT[i % len(CLIENT)]})
        if i < turns - 1:
            messages.append({"role": "assistant", "content": COUNSELOR[i % len(COUNSELOR)]})
    return messages


def gpu_info() -> dict:
    import torch

    if not torch.cuda.is_available():
        return {"device": "cpu", "torch": torch.__version__}
    props = torch.cuda.get_device_properties(0)
    return {
        "device": props.name,
        "gpu_memory_gib": round(props.total_memory / 1024**3, 1),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
