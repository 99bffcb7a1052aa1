"""Tiny, self-made fixtures for the LLM core: invented Japanese dialogues and a local "base model" (a tiny
random Llama + a BPE tokenizer trained here on our own text, with a chat template). Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

COUNSELOR_LINES = [
    "こんにちは、今日はどのようなことでご相談にいらっしゃいましたか。",
    "そうだったのですね、それはとてもつらかったですね。",
    "もう少し詳しく教えていただけますか。",
    "眠れない日が続くと、心も体も疲れてしまいますよね。",
    "ご自分を責める気持ちがあるのですね。",
    "その時、どんなお気持ちでしたか。",
    "今日お話ししてみて、少し整理できたことはありますか。",
    "次の一歩として、できそうなことを一緒に考えてみましょう。",
]
CLIENT_LINES = [
    "最近、仕事のことで夜あまり眠れなくて。",
    "上司に相談したいのですが、なかなか言い出せません。",
    "家族にも心配をかけたくなくて、誰にも話していないんです。",
    "自分が弱いだけなのかなと思ってしまいます。",
    "友だちとの関係もぎくしゃくしていて、学校に行くのがつらいです。",
    "話してみたら、少し気持ちが軽くなった気がします。",
    "週末に散歩をしてみようかなと思います。",
]
CLOSING = "今日はお話しくださってありがとうございました。お大事になさってください。"


def make_record(index: int, score: int, turns: int = 6) -> dict:
    """An invented dialogue in the KokoroChat JSON structure (counselor opens; two client messages in a row
    at the start to exercise merging)."""
    dialogue = [{"role": "counselor", "time": "2025-01-01T10:00:00", "utterance": COUNSELOR_LINES[0]}]
    for t in range(turns):
        dialogue.append(
            {
                "role": "client",
                "time": "2025-01-01T10:01:00",
                "utterance": CLIENT_LINES[(index + t) % len(CLIENT_LINES)],
            }
        )
        if t == 0:
            dialogue.append({"role": "client", "time": "2025-01-01T10:01:30", "utterance": "うまく言えないのですが。"})
        line = COUNSELOR_LINES[1 + (index * 3 + t) % (len(COUNSELOR_LINES) - 1)]
        dialogue.append({"role": "counselor", "time": "2025-01-01T10:02:00", "utterance": line})
    dialogue.append({"role": "counselor", "time": "2025-01-01T10:30:00", "utterance": CLOSING})
    items = [min(5, max(0, round(score / 20) + ((index + k) % 3) - 1)) for k in range(20)]
    return {"id": f"d{index:03d}", "dialogue": dialogue, "items": items, "score": score}


@pytest.fixture
def invented_records() -> list[dict]:
    scores = [99, 100, 99, 85, 90, 72, 78, 95, 60, 40, 88, 81, 74, 98, 66, 92]
    return [make_record(i, s) for i, s in enumerate(scores)]


CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from models_ml.llm.prompts import COUNSELOR_SYSTEM_PROMPT, SCORE_SYSTEM_PROMPT

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = COUNSELOR_LINES + CLIENT_LINES + [CLOSING, COUNSELOR_SYSTEM_PROMPT, SCORE_SYSTEM_PROMPT]
    tok.train_from_iterator(corpus * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|end|>", pad_token="<|pad|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """A local base-model directory: tiny random LlamaForCausalLM (hidden 64, 2 layers) + tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "README.txt").write_text(json.dumps({"purpose": "test fixture"}))
    return path


def tiny_job(base_model: Path, task: str = "response", **overrides):
    from models_ml.llm.config import JobConfig, TrainingConfig

    params = {
        "max_steps": 3,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "warmup_steps": 0,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "max_length": 256,
    }
    params.update(overrides)
    return JobConfig(base_model=str(base_model), task=task, training=TrainingConfig.for_task(task, **params))


@pytest.fixture(scope="session")
def qlora_run(tiny_base_model, tmp_path_factory):
    """One real QLoRA run (3 steps) through ``train``; snapshots the parameters before and after training."""
    from transformers import TrainerCallback

    from models_ml.llm.data import normalize_records
    from models_ml.llm.training import train

    snapshots: dict[str, dict] = {}

    class Snapshot(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            snapshots["before"] = {n: p.detach().clone() for n, p in model.named_parameters()}

        def on_train_end(self, args, state, control, model=None, **kwargs):
            snapshots["after"] = {n: p.detach().clone() for n, p in model.named_parameters()}

    records = [
        make_record(i, s) for i, s in enumerate([99, 100, 99, 85, 90, 72, 78, 95, 60, 40, 88, 81, 74, 98, 66, 92])
    ]
    progress: list[tuple[int, int, dict]] = []
    out = tmp_path_factory.mktemp("qlora-out")
    result = train(
        tiny_job(tiny_base_model),
        records,
        out,
        progress_cb=lambda step, total, logs: progress.append((step, total, logs)),
        extra_callbacks=[Snapshot()],
    )
    return {"result": result, "progress": progress, "snapshots": snapshots, "records": normalize_records(records)}
