"""Refinement and ending rules for AI partners (after the Interactive Agents paper).

AI client: one or two sentences, about 200 characters at most, no line breaks, no enumerations, no thanks or
goodbye before the conversation has had a chance to develop. A reply that breaks a rule is regenerated up to
``max_tries`` times; after that the last candidate is trimmed to its first sentences and flagged.

AI counselor: a reply containing one of ``CLOSING_PHRASES`` signals the end of the session.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_CLIENT_REPLY_CHARS = 200
# English needs more characters for the same reply: the Multilingual KokoroChat translations are a median 2.3
# times as long as their Japanese (measured on 300 dialogues), so 200 Japanese characters ≈ 450 English ones.
MAX_CLIENT_REPLY_CHARS_EN = 450
MAX_CLIENT_SENTENCES = 2
DEFAULT_MAX_TRIES = 3
MIN_TURNS_BEFORE_CLOSING = 10  # client turns before thanks/goodbye are acceptable

# Editable: phrases that, in a counselor turn, mean the session is being closed. Matched after NFKC
# normalisation and with whitespace removed, so full-width/half-width variants match too.
CLOSING_PHRASES: tuple[str, ...] = (
    "さようなら",
    "さよなら",
    "お大事に",
    "また来てください",
    "またいつでも来てください",
    "またいつでもご相談ください",
    "またいつでも相談してください",
    "またお話を聞かせてください",
    "応援しています",
    "今日はこれで終わりにしましょう",
    "本日はこれで終わります",
    "これで相談を終わります",
    "ご相談ありがとうございました",
    "お話しいただきありがとうございました",
)

# English sessions (issue 20): the same closing moves in English; matched case-insensitively as whole words.
CLOSING_PHRASES_EN: tuple[str, ...] = (
    "goodbye",
    "good bye",
    "take care of yourself",
    "take care",
    "come back any time",
    "come back anytime",
    "feel free to come back",
    "feel free to reach out again",
    "i'm rooting for you",
    "i am rooting for you",
    "let's end here for today",
    "that's all for today",
    "we'll end the session here",
    "thank you for consulting with us",
    "thank you for sharing with me today",
)

# Phrases that, from the client, end the conversation (thanks or goodbye). Too early = a rule violation.
CLIENT_FAREWELL_PHRASES: tuple[str, ...] = (
    "ありがとうございました",
    "ありがとうございます",
    "さようなら",
    "さよなら",
    "失礼します",
    "お世話になりました",
    "またよろしくお願いします",
)

CLIENT_FAREWELL_PHRASES_EN: tuple[str, ...] = (
    "goodbye",
    "good bye",
    "bye",
    "thank you so much for today",
    "thanks for today",
    "thank you for today",
    "thank you for listening",
    "thanks for listening",
    "thank you for your time",
    "see you",
)

VIOLATION_EMPTY = "empty"
VIOLATION_TOO_LONG = "too_long"
VIOLATION_TOO_MANY_SENTENCES = "too_many_sentences"
VIOLATION_LINE_BREAK = "line_break"
VIOLATION_ENUMERATION = "enumeration"
VIOLATION_EARLY_FAREWELL = "early_farewell"

_SENTENCE_END = "。！？!?"
_SENTENCE_RE = re.compile(rf"[^{_SENTENCE_END}]+(?:[{_SENTENCE_END}]+[」』）)]*|$)")
_ENUMERATION_RE = re.compile(
    r"[・•●○◦▪■□◆◇※]"  # bullet characters anywhere
    r"|(?:^|\s)[-*+]\s"  # markdown bullets
    r"|[①-⑳]"  # circled numbers
    r"|(?<![\d.,])\d{1,2}[.)](?!\d)"  # 1. 2) (not 3.5 or 1,000)
    r"|(?<![\d.,])\(\d{1,2}\)"  # (1)
    r"|(?:^|\s)[a-zA-Z][.)]\s",  # a. b)
)

# English: a number ends many sentences ("I'm 34."), so a numbered item counts only at the start of a line.
_ENUMERATION_RE_EN = re.compile(
    r"[•●○◦▪■□◆◇※]"
    r"|(?:^|\n)\s*(?:[-*+]|\d{1,2}[.)]|\(\d{1,2}\)|[a-zA-Z][.)])\s"
    r"|\s[-*+]\s"
    r"|[①-⑳]"
    r"|(?<![\w.,])\(\d{1,2}\)\s",
)

ENUMERATION_RE = _ENUMERATION_RE  # public name (the counselor refinement of models_ml.llm.ia_prompts uses it)


# English sentences end with . ! ? (optionally a closing quote or bracket) followed by a space.
_SENTENCE_SPLIT_EN = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def is_japanese(language: str | None) -> bool:
    return (language or "ja").split("-")[0].lower() == "ja"


def max_client_reply_chars(language: str | None = "ja") -> int:
    return MAX_CLIENT_REPLY_CHARS if is_japanese(language) else MAX_CLIENT_REPLY_CHARS_EN


def closing_phrases_for(language: str | None = "ja") -> tuple[str, ...]:
    """The counselor closing phrases of a session's language (English for every language but Japanese)."""
    return CLOSING_PHRASES if is_japanese(language) else CLOSING_PHRASES_EN


def split_sentences(text: str, *, language: str | None = "ja") -> list[str]:
    if not is_japanese(language):
        return [s.strip() for s in _SENTENCE_SPLIT_EN.split(text.replace("\n", " ")) if s.strip()]
    return [s.strip() for s in _SENTENCE_RE.findall(text.replace("\n", " ")) if s.strip()]


def _contains(text: str, phrase: str) -> bool:
    """Japanese phrases: whitespace-insensitive substring (NFKC); Latin phrases: case-insensitive whole words."""
    phrase = _normalize(phrase)
    if phrase.isascii():
        flat = re.sub(r"\s+", " ", _normalize(text).replace("\u2019", "'")).casefold()
        pattern = r"\s+".join(re.escape(w) for w in phrase.casefold().split())
        return re.search(rf"(?<![a-z']){pattern}(?![a-z])", flat) is not None
    return re.sub(r"\s+", "", phrase) in re.sub(r"\s+", "", _normalize(text))


def client_reply_violations(
    text: str,
    *,
    turn_index: int | None = None,
    max_chars: int | None = None,
    max_sentences: int = MAX_CLIENT_SENTENCES,
    min_turns_before_closing: int = MIN_TURNS_BEFORE_CLOSING,
    language: str | None = "ja",
) -> list[str]:
    """The rules an AI client reply breaks (empty list = acceptable). ``turn_index`` is the 0-based index of
    this client turn; thanks/goodbye before ``min_turns_before_closing`` client turns is a violation.
    ``language``: the sentence rule, the length limit and the farewells of the session's language."""
    norm = _normalize(text).strip()
    if not norm:
        return [VIOLATION_EMPTY]
    found = []
    if len(norm) > (max_chars or max_client_reply_chars(language)):
        found.append(VIOLATION_TOO_LONG)
    if len(split_sentences(norm, language=language)) > max_sentences:
        found.append(VIOLATION_TOO_MANY_SENTENCES)
    if "\n" in norm or "\r" in norm:
        found.append(VIOLATION_LINE_BREAK)
    enumeration = _ENUMERATION_RE if is_japanese(language) else _ENUMERATION_RE_EN
    if enumeration.search(text) or enumeration.search(norm):  # raw too: NFKC turns ① into 1
        found.append(VIOLATION_ENUMERATION)
    if turn_index is not None and turn_index < min_turns_before_closing:
        farewells = CLIENT_FAREWELL_PHRASES if is_japanese(language) else CLIENT_FAREWELL_PHRASES_EN
        if any(_contains(norm, p) for p in farewells):
            found.append(VIOLATION_EARLY_FAREWELL)
    return found


def trim_client_reply(
    text: str,
    *,
    max_chars: int | None = None,
    max_sentences: int = MAX_CLIENT_SENTENCES,
    language: str | None = "ja",
) -> str:
    """Last resort: drop enumeration markers and line breaks, keep the first sentences within ``max_chars``."""
    max_chars = max_chars or max_client_reply_chars(language)
    joiner = "" if is_japanese(language) else " "
    enumeration = _ENUMERATION_RE if is_japanese(language) else _ENUMERATION_RE_EN
    flat = enumeration.sub(" ", _normalize(enumeration.sub(" ", text)))
    sentences = split_sentences(re.sub(r"\s+", " ", flat), language=language)
    kept: list[str] = []
    for sentence in sentences[:max_sentences]:
        if len(joiner.join([*kept, sentence])) > max_chars:
            break
        kept.append(sentence)
    if not kept and sentences:
        kept = [sentences[0][:max_chars]]
    return joiner.join(kept).strip()


@dataclass
class RefinedReply:
    text: str
    tries: int
    trimmed: bool = False
    violations: list[list[str]] = field(default_factory=list)  # violations of each rejected candidate


def refine_client_reply(
    generate: Callable[[], str],
    *,
    turn_index: int | None = None,
    max_tries: int = DEFAULT_MAX_TRIES,
    max_chars: int | None = None,
    language: str | None = "ja",
) -> RefinedReply:
    """Call ``generate()`` until a reply follows the client rules (at most ``max_tries`` calls); otherwise
    trim the last candidate and set ``trimmed``."""
    history: list[list[str]] = []
    candidate = ""
    for attempt in range(1, max_tries + 1):
        candidate = generate()
        problems = client_reply_violations(candidate, turn_index=turn_index, max_chars=max_chars, language=language)
        if not problems:
            return RefinedReply(text=candidate.strip(), tries=attempt, violations=history)
        history.append(problems)
    trimmed = trim_client_reply(candidate, max_chars=max_chars, language=language)
    return RefinedReply(text=trimmed, tries=max_tries, trimmed=True, violations=history)


def detect_closing(text: str, phrases: Iterable[str] = CLOSING_PHRASES) -> str | None:
    """The first closing phrase found in a counselor turn, or None (Latin phrases: case-insensitive, whole words)."""
    for phrase in phrases:
        if _contains(text, phrase):
            return phrase
    return None


def is_closing(text: str, phrases: Iterable[str] = CLOSING_PHRASES) -> bool:
    return detect_closing(text, phrases) is not None
