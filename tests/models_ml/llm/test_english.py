"""English-mode prompts, role cards and rules (issue 20 item 4): an English card renders an English prompt,
English sessions get English counselor prompts and closing phrases, the client rules read English sentences."""

from __future__ import annotations

import pytest

from models_ml.llm.partners import ai_client_reply, ai_counselor_reply
from models_ml.llm.prompts import (
    CLIENT_SYSTEM_PROMPT_TEMPLATE_EN,
    COUNSELOR_SYSTEM_PROMPT,
    COUNSELOR_SYSTEM_PROMPT_EN,
    counselor_system_prompt,
)
from models_ml.llm.role_cards import (
    ERR_LANGUAGE,
    RoleCard,
    RoleCardError,
    example_role_cards,
    render_client_system_prompt,
)
from models_ml.llm.rules import (
    MAX_CLIENT_REPLY_CHARS_EN,
    VIOLATION_EARLY_FAREWELL,
    VIOLATION_ENUMERATION,
    VIOLATION_TOO_LONG,
    VIOLATION_TOO_MANY_SENTENCES,
    client_reply_violations,
    closing_phrases_for,
    detect_closing,
    refine_client_reply,
    trim_client_reply,
)


class Recorder:
    """A backend that records the chat messages it was given and answers from a list."""

    def __init__(self, *answers: str) -> None:
        self.answers, self.calls = list(answers), []

    def generate(self, messages, **params):
        self.calls.append(messages)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_the_english_example_cards_are_english_and_render_an_english_prompt():
    english, japanese = example_role_cards("en"), example_role_cards()
    assert set(english) == set(japanese) and len(english) == 3
    for card in english.values():
        assert card.language == "en" and card.name.isascii()
        prompt = render_client_system_prompt(card)
        assert prompt.startswith(CLIENT_SYSTEM_PROMPT_TEMPLATE_EN.split("{card}")[0])
        assert "# Your persona" in prompt and f"- Age: {card.age} years old" in prompt
        assert card.chief_complaint in prompt and f"at most {MAX_CLIENT_REPLY_CHARS_EN} characters" in prompt
        assert not any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in prompt)  # no kana/kanji
    for card in japanese.values():
        assert card.language == "ja" and "# あなたの人物設定" in render_client_system_prompt(card)


def test_a_card_language_must_be_known():
    data = dict(example_role_cards("en")["caregiver_parent"].to_dict(), language="fr")
    with pytest.raises(RoleCardError) as exc:
        RoleCard.from_dict(data)
    assert str(exc.value) == ERR_LANGUAGE


def test_the_counselor_prompt_and_closing_phrases_follow_the_session_language():
    assert counselor_system_prompt("ja") == COUNSELOR_SYSTEM_PROMPT
    assert counselor_system_prompt("en") == COUNSELOR_SYSTEM_PROMPT_EN == counselor_system_prompt("zh")
    backend = Recorder("It sounds like a hard week. Take care of yourself.")
    reply = ai_counselor_reply(backend, [{"role": "client", "text": "I can't sleep."}], language="en")
    assert backend.calls[0][0] == {"role": "system", "content": COUNSELOR_SYSTEM_PROMPT_EN}
    assert reply.closing_phrase == "take care of yourself"
    japanese = Recorder("It sounds like a hard week. Take care of yourself.")
    assert ai_counselor_reply(japanese, [{"role": "client", "text": "眠れません。"}]).closing_phrase is None
    assert japanese.calls[0][0]["content"] == COUNSELOR_SYSTEM_PROMPT


def test_english_closing_phrases_match_whole_words_case_insensitively():
    phrases = closing_phrases_for("en")
    assert detect_closing("GOODBYE for now!", phrases) == "goodbye"
    assert detect_closing("Feel free to come back   any time.", phrases) == "come back any time"
    assert detect_closing("I’m rooting for you.", phrases) == "i'm rooting for you"  # typographic apostrophe
    assert detect_closing("Let's take careful notes of that.", phrases) is None  # "careful" is not "care"
    assert detect_closing("お大事に。", phrases) is None and detect_closing("お大事に。") == "お大事に"


def test_english_client_rules():
    def rules(text, **kw):
        return client_reply_violations(text, turn_index=0, language="en", **kw)

    assert rules("I'm 34. My wife says I work too much.") == []  # "34." ends a sentence, not an enumeration
    assert VIOLATION_TOO_MANY_SENTENCES in rules("I am tired. I can't sleep. Work is hard.")
    assert VIOLATION_ENUMERATION in rules("- work\n- sleep")
    assert VIOLATION_EARLY_FAREWELL in rules("Thanks for listening, bye.")
    assert rules("Maybe a bit by evening.") == []  # "bye" only as a word
    assert VIOLATION_TOO_LONG in rules("word " * 100) and rules("word " * 60) == []  # 450 characters in English
    assert VIOLATION_TOO_LONG in client_reply_violations("あ" * 300, turn_index=0)  # 200 in Japanese
    assert trim_client_reply("I am tired. I can't sleep. Work is hard.", language="en") == "I am tired. I can't sleep."
    refined = refine_client_reply(lambda: "One. Two. Three.", language="en", max_tries=2)
    assert refined.trimmed and refined.text == "One. Two."


def test_an_english_card_prompts_the_ai_client_in_english_and_applies_english_rules():
    card = example_role_cards("en")["office_worker_overtime"]
    backend = Recorder("I am fine. It's nothing. Really.", "Work has been a lot lately.")
    reply = ai_client_reply(backend, card, [{"role": "counselor", "text": "Hello, what brings you here today?"}])
    system = backend.calls[0][0]
    assert system["role"] == "system" and system["content"] == render_client_system_prompt(card)
    assert reply.text == "Work has been a lot lately." and reply.tries == 2
