"""Per-turn signals on hand-written Japanese examples (models_ml/coaching/signals_text.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from models_ml.coaching.signals_text import (
    LONG_REPLY_CHARS,
    QUESTION_STREAK,
    SLOW_RESPONSE_S,
    analyse,
    live_hints,
    percentile,
    sentences,
    session_stats,
    turn_signals,
)

QUESTIONS = [
    "最近は眠れていますか。",
    "今日はどうされましたか？",
    "どうしたの",
    "眠れないのかな",
    "どんなことがあったか教えてください。",
    "なぜそう思ったのでしょう",
    "それはいつ頃からですか?",
    "ご家族には相談されましたか😊",
]
NOT_QUESTIONS = [
    "そうですか。",  # back-channel: acknowledges, lets the client go on
    "そうなんですか？",  # back-channel even with a question mark
    "なるほど。",
    "何かあれば教えてください。",  # 何か is indefinite, an offer
    "静か。",  # ends in か but is not the particle
    "ご相談ありがとうございます。",
    "よろしくお願いします。",
]
REFLECTIONS = [
    "辛かったんですね。",
    "ひとりで頑張ってこられたんですね",
    "不安を感じていらっしゃるのですね。",
    "自分が責められていると感じておられるのですね",
    "眠れないほど悩んでいらっしゃるんですね？",  # tentative reflection: the ね wins over the ？
]
NOT_REFLECTIONS = ["そうですね。", "いいですね！", "ありがとうございます。"]
SUMMARIES = [
    "つまり、仕事と家庭の両方で疲れているということですね。",
    "要するに、誰にも頼れないと思っていらっしゃる。",
    "お話を伺っていると、ずっと我慢してこられたようです。",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_are_detected(text):
    s = turn_signals(text)
    assert s.is_question and s.kind == "question"


@pytest.mark.parametrize("text", NOT_QUESTIONS)
def test_backchannels_offers_and_statements_are_not_questions(text):
    assert not turn_signals(text).is_question


@pytest.mark.parametrize("text", REFLECTIONS)
def test_reflections_are_detected_and_not_counted_as_questions(text):
    s = turn_signals(text)
    assert s.is_reflection and not s.is_question and s.kind == "reflection"


@pytest.mark.parametrize("text", NOT_REFLECTIONS)
def test_agreement_set_phrases_are_not_reflections(text):
    assert not turn_signals(text).is_reflection


@pytest.mark.parametrize("text", SUMMARIES)
def test_summaries_count_as_summary_and_reflection(text):
    s = turn_signals(text)
    assert s.is_summary and s.is_reflection and s.kind == "summary"


def test_a_reflection_followed_by_a_question_is_both():
    s = turn_signals("お仕事のことで悩んでいらっしゃるんですね。それはいつ頃からですか？")
    assert s.is_reflection and s.is_question and s.kind == "reflection"


def test_length_counts_characters_without_surrounding_space():
    assert turn_signals("  はい。\n").length == 3


def test_sentences_keep_their_delimiters():
    assert sentences("そうですか。いつからですか？\n大変でしたね") == [
        "そうですか。",
        "いつからですか？",
        "大変でしたね",
    ]


T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)


def _msgs(*spec):
    return [(role, T0 + timedelta(seconds=s), text) for role, s, text in spec]


def test_response_time_is_measured_from_the_clients_previous_message_for_the_first_reply_only():
    turns = analyse(
        _msgs(
            ("counselor", 0, "こんにちは。"),
            ("client", 10, "よろしくお願いします。"),
            ("counselor", 40, "今日はどうされましたか？"),
            ("counselor", 100, "ゆっくりで大丈夫です。"),
        )
    )
    assert [t.response_s for t in turns] == [None, None, 30.0, None]
    assert [t.opens_turn for t in turns] == [False, False, True, False]


def test_session_stats_ratios():
    turns = analyse(
        _msgs(
            ("client", 0, "眠れません。"),
            ("counselor", 20, "いつからですか？"),
            ("client", 30, "先月からです。"),
            ("counselor", 70, "辛かったんですね。"),
            ("client", 80, "はい。"),
            ("counselor", 90, "どんな時に眠れないですか？"),
            ("counselor", 95, "なるほど。"),
        )
    )
    stats = session_stats(turns)
    assert (stats.counselor_messages, stats.questions, stats.reflections) == (4, 2, 1)
    assert stats.question_ratio == 0.5 and stats.reflection_ratio == 0.25 and stats.reflection_to_question == 0.5
    assert stats.mean_response_s == pytest.approx((20 + 40 + 10) / 3, abs=0.1)


def test_session_without_questions_has_no_reflection_to_question_ratio():
    stats = session_stats(analyse(_msgs(("client", 0, "はい。"), ("counselor", 5, "大変でしたね。"))))
    assert stats.reflection_to_question is None and stats.reflection_ratio == 1.0


def test_live_hints_flag_question_streak_long_reply_and_slow_response():
    questions = [("client", 0, "眠れません。")]
    for k in range(QUESTION_STREAK - 1):
        questions += [("counselor", 10 * k + 5, "いつからですか？"), ("client", 10 * k + 8, "先月です。")]
    last = ("counselor", 400, "お仕事は何をされていますか？" + "あ" * LONG_REPLY_CHARS)
    streak = analyse(_msgs(*questions, last))
    assert live_hints(streak) == ["question_streak", "long_reply", "slow_response"]
    in_time = questions[-1][1] + SLOW_RESPONSE_S  # not more than the threshold after the client's message
    one_short = analyse(_msgs(*questions[2:], ("counselor", in_time, "お仕事は何をされていますか？")))
    assert live_hints(one_short) == []  # one question fewer, short, in time: no hint
    calm = analyse(_msgs(("client", 0, "眠れません。"), ("counselor", 5, "眠れないんですね。")))
    assert live_hints(calm) == []


def test_percentile_of_a_value_in_a_sorted_reference():
    assert percentile(0.5, [0.1, 0.2, 0.5, 0.9]) == 75
    assert percentile(None, [0.1]) is None and percentile(0.3, []) is None
