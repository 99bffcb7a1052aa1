import pytest

from models_ml.llm.rules import (
    CLOSING_PHRASES,
    MAX_CLIENT_REPLY_CHARS,
    VIOLATION_EARLY_FAREWELL,
    VIOLATION_EMPTY,
    VIOLATION_ENUMERATION,
    VIOLATION_LINE_BREAK,
    VIOLATION_TOO_LONG,
    VIOLATION_TOO_MANY_SENTENCES,
    client_reply_violations,
    detect_closing,
    is_closing,
    refine_client_reply,
    split_sentences,
    trim_client_reply,
)


@pytest.mark.parametrize(
    "text",
    [
        "最近、夜あまり眠れなくて。",
        "上司に相談したいのですが、言い出せません。自分が弱いだけなのかなと思ってしまいます。",
        "睡眠は3.5時間くらいです。",
        "1,000円のランチも喉を通らなくて。",
    ],
)
def test_short_plain_client_replies_follow_the_rules(text):
    assert client_reply_violations(text, turn_index=0) == []


@pytest.mark.parametrize(
    ("text", "violation"),
    [
        ("", VIOLATION_EMPTY),
        ("   ", VIOLATION_EMPTY),
        ("眠れません。" + "本当に" * 80 + "つらいです。", VIOLATION_TOO_LONG),
        ("眠れません。仕事もつらいです。家族にも言えません。", VIOLATION_TOO_MANY_SENTENCES),
        ("眠れません。\n仕事もつらいです。", VIOLATION_LINE_BREAK),
        ("理由は・仕事・家族です。", VIOLATION_ENUMERATION),
        ("1. 仕事がつらい 2. 眠れない", VIOLATION_ENUMERATION),
        ("１．仕事がつらいです。", VIOLATION_ENUMERATION),
        ("①仕事がつらいです。", VIOLATION_ENUMERATION),
        ("- 仕事がつらいです", VIOLATION_ENUMERATION),
        ("(1)仕事がつらいです。", VIOLATION_ENUMERATION),
        ("話を聞いてくれてありがとうございました。", VIOLATION_EARLY_FAREWELL),
        ("それでは失礼します。", VIOLATION_EARLY_FAREWELL),
    ],
)
def test_client_replies_breaking_a_rule_are_flagged(text, violation):
    assert violation in client_reply_violations(text, turn_index=2)


def test_thanks_is_fine_once_the_conversation_has_developed():
    assert client_reply_violations("今日はありがとうございました。", turn_index=15) == []


def test_refine_regenerates_until_a_reply_follows_the_rules():
    candidates = iter(["1. 仕事\n2. 家族", "眠れない日が続いていて、仕事に集中できません。", "unused"])
    result = refine_client_reply(lambda: next(candidates), turn_index=1)
    assert result.text == "眠れない日が続いていて、仕事に集中できません。"
    assert result.tries == 2 and not result.trimmed
    assert VIOLATION_ENUMERATION in result.violations[0]


def test_refine_trims_to_the_first_sentences_after_max_tries():
    calls = []

    def bad():
        calls.append(1)
        return "眠れません。\n・仕事がつらいです。\n・家族にも言えません。\n・誰にも相談できません。"

    result = refine_client_reply(bad, turn_index=1, max_tries=3)
    assert len(calls) == 3
    assert result.trimmed and result.tries == 3
    assert result.text == "眠れません。仕事がつらいです。"
    assert client_reply_violations(result.text, turn_index=1) == []


def test_trim_cuts_a_single_over_long_sentence_to_the_limit():
    text = "あ" * (MAX_CLIENT_REPLY_CHARS + 50)
    assert len(trim_client_reply(text)) == MAX_CLIENT_REPLY_CHARS


def test_split_sentences_keeps_closing_brackets_with_their_sentence():
    assert split_sentences("「眠れない。」と言われました。本当です！") == [
        "「眠れない。」",
        "と言われました。",
        "本当です！",
    ]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("今日はお話しいただきありがとうございました。どうぞお大事になさってください。", "お大事に"),
        ("また来てくださいね。", "また来てください"),
        ("これからのあなたを応援しています。", "応援しています"),
        ("それでは、さようなら。", "さようなら"),
        ("またいつでも 来てください。", "またいつでも来てください"),
    ],
)
def test_counselor_closing_phrases_are_detected(text, phrase):
    assert is_closing(text)
    assert detect_closing(text) in CLOSING_PHRASES
    assert phrase in CLOSING_PHRASES


@pytest.mark.parametrize(
    "text",
    [
        "そうだったのですね。もう少し詳しく教えていただけますか。",
        "眠れない日が続くとつらいですよね。",
        "大事なことですね。",
    ],
)
def test_ordinary_counselor_turns_are_not_closings(text):
    assert not is_closing(text)


def test_closing_phrase_list_is_editable():
    assert is_closing("本日はここまでです。", phrases=("ここまで",))
    assert not is_closing("本日はここまでです。")
