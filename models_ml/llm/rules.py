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

ENUMERATION_RE = _ENUMERATION_RE  # public name (the counselor refinement of models_ml.llm.ia_prompts uses it)


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.findall(text.replace("\n", " ")) if s.strip()]


def client_reply_violations(
    text: str,
    *,
    turn_index: int | None = None,
    max_chars: int = MAX_CLIENT_REPLY_CHARS,
    max_sentences: int = MAX_CLIENT_SENTENCES,
    min_turns_before_closing: int = MIN_TURNS_BEFORE_CLOSING,
) -> list[str]:
    """The rules an AI client reply breaks (empty list = acceptable). ``turn_index`` is the 0-based index of
    this client turn; thanks/goodbye before ``min_turns_before_closing`` client turns is a violation."""
    norm = _normalize(text).strip()
    if not norm:
        return [VIOLATION_EMPTY]
    found = []
    if len(norm) > max_chars:
        found.append(VIOLATION_TOO_LONG)
    if len(split_sentences(norm)) > max_sentences:
        found.append(VIOLATION_TOO_MANY_SENTENCES)
    if "\n" in norm or "\r" in norm:
        found.append(VIOLATION_LINE_BREAK)
    if _ENUMERATION_RE.search(text) or _ENUMERATION_RE.search(norm):  # raw too: NFKC turns ① into 1
        found.append(VIOLATION_ENUMERATION)
    if turn_index is not None and turn_index < min_turns_before_closing:
        compact = re.sub(r"\s+", "", norm)
        if any(p in compact for p in CLIENT_FAREWELL_PHRASES):
            found.append(VIOLATION_EARLY_FAREWELL)
    return found


def trim_client_reply(
    text: str, *, max_chars: int = MAX_CLIENT_REPLY_CHARS, max_sentences: int = MAX_CLIENT_SENTENCES
) -> str:
    """Last resort: drop enumeration markers and line breaks, keep the first sentences within ``max_chars``."""
    flat = _ENUMERATION_RE.sub(" ", _normalize(_ENUMERATION_RE.sub(" ", text)))
    sentences = split_sentences(re.sub(r"\s+", " ", flat))
    kept: list[str] = []
    for sentence in sentences[:max_sentences]:
        if len("".join(kept)) + len(sentence) > max_chars:
            break
        kept.append(sentence)
    if not kept and sentences:
        kept = [sentences[0][:max_chars]]
    return "".join(kept).strip()


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
    max_chars: int = MAX_CLIENT_REPLY_CHARS,
) -> RefinedReply:
    """Call ``generate()`` until a reply follows the client rules (at most ``max_tries`` calls); otherwise
    trim the last candidate and set ``trimmed``."""
    history: list[list[str]] = []
    candidate = ""
    for attempt in range(1, max_tries + 1):
        candidate = generate()
        problems = client_reply_violations(candidate, turn_index=turn_index, max_chars=max_chars)
        if not problems:
            return RefinedReply(text=candidate.strip(), tries=attempt, violations=history)
        history.append(problems)
    return RefinedReply(
        text=trim_client_reply(candidate, max_chars=max_chars), tries=max_tries, trimmed=True, violations=history
    )


def detect_closing(text: str, phrases: Iterable[str] = CLOSING_PHRASES) -> str | None:
    """The first closing phrase found in a counselor turn, or None."""
    compact = re.sub(r"\s+", "", _normalize(text))
    for phrase in phrases:
        if re.sub(r"\s+", "", _normalize(phrase)) in compact:
            return phrase
    return None


def is_closing(text: str, phrases: Iterable[str] = CLOSING_PHRASES) -> bool:
    return detect_closing(text, phrases) is not None
