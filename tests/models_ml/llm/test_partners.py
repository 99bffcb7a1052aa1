from collections.abc import Iterator

from models_ml.llm.backends import GenerationBackend
from models_ml.llm.backends.retrieval import RetrievalBackend
from models_ml.llm.partners import ai_client_reply, ai_counselor_reply, to_chat_messages
from models_ml.llm.role_cards import example_role_cards
from models_ml.llm.rules import VIOLATION_LINE_BREAK


class Scripted(GenerationBackend):
    """Replays fixed replies and records the messages it was given."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.seen = []

    def stream(self, messages, **params) -> Iterator[str]:
        self.seen.append(messages)
        yield self.replies.pop(0)


HISTORY = [
    {"role": "counselor", "text": "こんにちは。"},
    {"role": "client", "text": "眠れなくて。"},
    {"role": "client", "text": "仕事のことです。"},
    {"role": "counselor", "text": "つらいですね。"},
]


def test_history_becomes_chat_messages_from_the_ai_point_of_view():
    as_client = to_chat_messages(HISTORY, ai_role="client", system_prompt="S")
    assert [m["role"] for m in as_client] == ["system", "user", "assistant", "user"]
    assert as_client[2]["content"] == "眠れなくて。\n仕事のことです。"
    as_counselor = to_chat_messages(HISTORY, ai_role="counselor", system_prompt="S")
    assert [m["role"] for m in as_counselor] == ["system", "assistant", "user", "assistant"]


def test_ai_client_regenerates_rule_breaking_replies_with_the_role_card_prompt():
    card = example_role_cards()["student_friendship"]
    backend = Scripted(["一つ目です。\n二つ目です。", "サークルのことで、少し悩んでいて。"])
    reply = ai_client_reply(backend, card, HISTORY)
    assert reply.text == "サークルのことで、少し悩んでいて。" and reply.tries == 2
    assert VIOLATION_LINE_BREAK in reply.violations[0]
    assert card.chief_complaint in backend.seen[0][0]["content"]


def test_ai_counselor_reply_flags_closing():
    assert ai_counselor_reply(Scripted(["今日はここまでにしましょう。お大事になさってください。"]), HISTORY).is_closing
    assert not ai_counselor_reply(Scripted(["もう少し教えてください。"]), HISTORY).is_closing


def test_ai_counselor_with_the_retrieval_backend():
    records = [
        {
            "dialogue": [
                {"role": "counselor", "time": "", "utterance": "こんにちは。"},
                {"role": "client", "time": "", "utterance": "仕事のことで眠れません。"},
                {"role": "counselor", "time": "", "utterance": "眠れないほど悩んでいらっしゃるのですね。"},
            ],
            "score": 80,
        }
    ]
    reply = ai_counselor_reply(RetrievalBackend.from_records(records), HISTORY)
    assert reply.text == "眠れないほど悩んでいらっしゃるのですね。" and not reply.is_closing
