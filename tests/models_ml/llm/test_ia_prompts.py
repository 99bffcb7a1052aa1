"""Interactive Agents as published: counselor prompt (three stages, nine rules), client prompt, and the
counselor refinement (<= 200 characters, no line break, no enumeration)."""

import re
from collections.abc import Iterator

import pytest

from models_ml.llm import ia_prompts
from models_ml.llm.backends.base import GenerationBackend
from models_ml.llm.partners import ai_client_reply, ai_counselor_reply
from models_ml.llm.role_cards import example_role_cards


def test_counselor_prompt_has_the_three_stages_in_order_and_nine_rules():
    prompt = ia_prompts.IA_COUNSELOR_SYSTEM_PROMPT
    stages = [prompt.index(s) for s in ("前期（探索）", "中期（洞察）", "後期（行動）")]
    assert stages == sorted(stages)
    rules = prompt[prompt.index("カウンセラーの対話の要件") :]
    assert re.findall(r"^(\d)\. ", rules, re.M) == [str(i) for i in range(1, 10)]


def test_client_prompt_has_the_six_published_requirements_and_the_card():
    prompt = ia_prompts.IA_CLIENT_SYSTEM_PROMPT_TEMPLATE.format(card="主訴: 眠れない")
    assert "主訴: 眠れない" in prompt
    assert re.findall(r"^(\d)\. ", prompt, re.M) == [str(i) for i in range(1, 7)]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("そのとき、どんなお気持ちでしたか。", []),
        ("週に3、4回はそう感じるのですね。", []),
        ("あ" * 201, ["too_long"]),
        ("そうなのですね。\nもう少し教えてください。", ["line_break"]),
        ("できることは 1. 休む 2) 話す です。", ["enumeration"]),
        ("・休む・話す", ["enumeration"]),
        ("", ["empty"]),
    ],
)
def test_counselor_reply_criteria(text, problems):
    assert ia_prompts.counselor_reply_violations(text) == problems


class Scripted(GenerationBackend):
    """Replays fixed replies (the last one repeats) and records the messages it was given."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.messages = []

    def stream(self, messages, **params) -> Iterator[str]:
        self.messages.append(messages)
        yield self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def test_the_refinement_regenerates_the_counselor_and_trims_as_a_last_resort():
    backend = Scripted(["一つ目。\n二つ目。", "そうだったのですね。"])
    reply = ai_counselor_reply(backend, [{"role": "client", "text": "こんにちは"}], refine=True)
    assert reply.text == "そうだったのですね。" and reply.refined.tries == 2 and not reply.refined.trimmed
    long = "とても大切なお話です。" * 30
    reply = ai_counselor_reply(Scripted([long]), [{"role": "client", "text": "はい"}], refine=True, max_tries=2)
    assert reply.refined.trimmed and len(reply.text) <= 200 and "\n" not in reply.text
    assert ia_prompts.counselor_reply_violations(reply.text) == []


def test_without_refine_the_counselor_reply_is_taken_as_it_is():
    reply = ai_counselor_reply(Scripted(["一つ目。\n二つ目。"]), [{"role": "client", "text": "はい"}])
    assert reply.text == "一つ目。\n二つ目。" and reply.refined is None


def test_the_published_client_prompt_is_not_refined():
    card = next(iter(example_role_cards().values()))
    backend = Scripted(["長い話です。" * 50])
    reply = ai_client_reply(
        backend, card, [], system_prompt_template=ia_prompts.IA_CLIENT_SYSTEM_PROMPT_TEMPLATE, refine=False
    )
    assert reply.text == "長い話です。" * 50 and reply.tries == 1 and len(backend.messages) == 1
    system = backend.messages[0][0]["content"]
    assert system.startswith("あなたは心理カウンセリングに来たクライアントです。") and card.chief_complaint in system
