"""Per-turn signals computed on a counselor's text (pure Python, no Django).

Rule set (documented in docs/coaching.md):

* A message is split into sentences at 。！？!? and line breaks (the delimiter stays with its sentence).
* **Question** — a sentence is a question when
  1. it ends with ？ / ? (full or half width), or
  2. its last word (fugashi/UniDic, trailing symbols/emoji ignored) is the sentence-final particle
     か / かな / かね / の (終助詞: 「眠れていますか。」「どうしたの」) — the indefinite 何か (副助詞) and
     words that merely end in か (静か, 確か) are not, or
  3. it holds an interrogative word (どう, なぜ, 何, いつ, どんな, どこ, 誰, どれ, どの, どちら, いかが, どうして,
     どのくらい, どのように, なんで) and ends with a request to tell (教えて / 聞かせて / 話して + ください …)
     or with でしょう / だろう: 「どんなことがあったか教えてください。」「なぜそう思ったのでしょう」 are open questions.
  An interrogative word alone does not make a question (「何かあれば教えてください。」 is an offer).
  **Back-channels are not questions**: そうですか / そうなんですか / そうでしたか / そうだったんですか / なるほど…
  with or without ？ — they acknowledge and let the client go on.
* **Reflection** — a sentence that checks back the client's feeling or content: it ends with the particle ね
  after です / ます / でした / んだ (「辛かったんですね」「頑張ってこられたんですね」), or it holds a feeling
  phrase (と感じて, 気持ち…ね, と思われて, 感じていらっしゃる). Agreement/evaluation set phrases
  (そうですね, いいですね, よろしくお願いします…) are not reflections. A tentative 「〜ですね？」 counts as a reflection,
  not a question (the ね wins).
* **Summary** — つまり, 要するに, まとめると, お話を伺っていると, ということですね, ということなんですね,
  ということでしょうか: a summary is also counted as a reflection.
* A message counts as a question (or reflection, summary) when any of its sentences does.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models_ml.llm.text import tagger

RULES_VERSION = "1"

SENTENCE_RE = re.compile(r"[^。！？!?\n]+[。！？!?]*|[。！？!?]+")
TRAILING_RE = re.compile(r"[\s。、．.，,！!？?…〜~ー―)）」』】\]wｗ笑\U0001F000-\U0001FAFF\u2600-\u27BF]+$")
QUESTION_MARKS = ("？", "?")
INTERROGATIVES = (
    "どうして",
    "どのくらい",
    "どのように",
    "どんな",
    "どちら",
    "どれ",
    "どの",
    "どこ",
    "どう",
    "なぜ",
    "なんで",
    "何",
    "いつ",
    "誰",
    "いかが",
)
TELL_ME_RE = re.compile(r"(教えて|聞かせて|話して|お聞かせ)(いただけ|もらえ|ください|くださ|下さい|ほしい|欲しい)")
QUESTION_PARTICLES = {"か", "かな", "かね", "の", "かしら"}
BACKCHANNEL_RE = re.compile(
    r"^(あ+、?|ああ、?|えっ、?|へえ、?)?(そう|そうなん|そうだったん|そうでしたん|なるほど|そうでした)(です|でした)?か?[。！？!?…]*$"
)
SUMMARY_MARKERS = (
    "つまり",
    "要するに",
    "まとめると",
    "お話を伺っていると",
    "お話をうかがっていると",
    "ということですね",
    "ということなんですね",
    "ということでしょうか",
    "ということですか",
)
FEELING_MARKERS = ("と感じて", "感じていらっしゃる", "感じておられ", "と思われて", "気持ちなんですね", "お気持ちですね")
REFLECTION_END_RE = re.compile(r"(です|ます|でした|ました|んだ|のだ|んです|のです|でしょう)(よ)?ね$")
NOT_REFLECTION_RE = re.compile(
    r"^(そう|そうです|いい|良い|よい|大丈夫|いいです|よろしい|ありがとうございます|そうでした|寒い|暑い)(です|でした)?(よ)?ね$"
)


@dataclass(frozen=True)
class TurnSignals:
    is_question: bool
    is_reflection: bool  # summaries included
    is_summary: bool
    length: int  # characters, surrounding white space excluded

    @property
    def kind(self) -> str:
        if self.is_summary:
            return "summary"
        if self.is_reflection:
            return "reflection"
        if self.is_question:
            return "question"
        return "other"


def _tagger():
    """The process's one MeCab tagger (shared with the retrieval partner and the arena metrics)."""
    try:
        return tagger()
    except ImportError:  # pragma: no cover - fugashi is a runtime requirement
        return None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_RE.findall(text or "") if s.strip()]


def _core(sentence: str) -> str:
    """The sentence without its trailing punctuation, symbols, emoji and laughter marks."""
    return TRAILING_RE.sub("", sentence.strip())


def _ends_with_question_particle(core: str) -> bool:
    if not core:
        return False
    tagger = _tagger()
    if tagger is None:  # fallback: plain suffix check (cannot tell 静か from ですか)
        return core.endswith(("ですか", "ますか", "でしょうか", "のか", "かな", "の"))
    words = [w for w in tagger(core) if w.feature.pos1 not in ("補助記号", "空白")]
    if not words:
        return False
    last = words[-1]
    if last.feature.pos1 == "助詞" and last.feature.pos2 == "終助詞" and last.surface in QUESTION_PARTICLES:
        return True
    # 「〜かな」 is tagged か + な; 「〜でしょうかね」 か + ね.
    if (
        len(words) >= 2
        and last.surface in ("な", "ね")
        and words[-2].surface == "か"
        and words[-2].feature.pos1 == "助詞"
    ):
        return words[-2].feature.pos2 == "終助詞"
    return False


def is_backchannel(sentence: str) -> bool:
    return bool(BACKCHANNEL_RE.match(sentence.strip().replace(" ", "")))


def sentence_is_question(sentence: str) -> bool:
    s = sentence.strip()
    if not s or is_backchannel(s) or sentence_is_reflection(s):
        return False
    if s.rstrip().endswith(QUESTION_MARKS) or s.rstrip("。.…").endswith(QUESTION_MARKS):
        return True
    core = _core(s)
    if _ends_with_question_particle(core):
        return True
    if not any(w in s for w in INTERROGATIVES) or s.startswith("何か"):
        return False
    return bool(TELL_ME_RE.search(s)) or core.endswith(("でしょう", "だろう"))


def sentence_is_summary(sentence: str) -> bool:
    return any(m in sentence for m in SUMMARY_MARKERS)


def sentence_is_reflection(sentence: str) -> bool:
    s = sentence.strip()
    if sentence_is_summary(s) or any(m in s for m in FEELING_MARKERS):
        return True
    core = _core(s)
    if NOT_REFLECTION_RE.match(core):
        return False
    return bool(REFLECTION_END_RE.search(core))


def turn_signals(text: str) -> TurnSignals:
    parts = sentences(text)
    summary = any(sentence_is_summary(p) for p in parts)
    reflection = summary or any(sentence_is_reflection(p) for p in parts)
    question = any(sentence_is_question(p) for p in parts)
    return TurnSignals(
        is_question=question, is_reflection=reflection, is_summary=summary, length=len((text or "").strip())
    )


# --- a whole dialogue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One message of a dialogue with its signals (counselor messages only have signals)."""

    index: int
    role: str
    text: str
    time: datetime | None
    signals: TurnSignals | None
    response_s: float | None  # counselor: seconds since the client's previous message (first reply only)
    opens_turn: bool  # counselor: first message after a client message (a suggestion is made here)


def analyse(messages: Iterable[tuple[str, datetime | None, str]]) -> list[Turn]:
    """``messages`` = (role, time, text) in order; roles "counselor" / "client"."""
    out: list[Turn] = []
    last_client_time: datetime | None = None
    previous_role = ""
    seen_client = False
    for i, (role, time, text) in enumerate(messages):
        if role == "counselor":
            opens = previous_role == "client"
            response = None
            if opens and last_client_time is not None and time is not None:
                response = max(0.0, (time - last_client_time).total_seconds())
            out.append(Turn(i, role, text, time, turn_signals(text), response, opens and seen_client))
        else:
            seen_client = True
            last_client_time = time
            out.append(Turn(i, role, text, time, None, None, False))
        previous_role = role
    return out


@dataclass(frozen=True)
class SessionStats:
    counselor_messages: int
    questions: int
    reflections: int
    summaries: int
    question_ratio: float | None  # questions / counselor messages
    reflection_ratio: float | None  # reflections (summaries included) / counselor messages
    reflection_to_question: float | None  # reflections / questions (None without questions)
    mean_response_s: float | None
    mean_length: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def session_stats(turns: Sequence[Turn]) -> SessionStats:
    counselor = [t for t in turns if t.signals is not None]
    n = len(counselor)
    q = sum(1 for t in counselor if t.signals.is_question)
    r = sum(1 for t in counselor if t.signals.is_reflection)
    s = sum(1 for t in counselor if t.signals.is_summary)
    responses = [t.response_s for t in counselor if t.response_s is not None]
    return SessionStats(
        counselor_messages=n,
        questions=q,
        reflections=r,
        summaries=s,
        question_ratio=round(q / n, 4) if n else None,
        reflection_ratio=round(r / n, 4) if n else None,
        reflection_to_question=round(r / q, 4) if q else None,
        mean_response_s=round(statistics.fmean(responses), 1) if responses else None,
        mean_length=round(statistics.fmean(t.signals.length for t in counselor), 1) if n else None,
    )


def percentile(value: float | None, reference: Sequence[float]) -> int | None:
    """Share (0-100) of the sorted ``reference`` values at or below ``value``."""
    if value is None or not reference:
        return None
    import bisect

    return round(100 * bisect.bisect_right(reference, value) / len(reference))


# --- live hints -------------------------------------------------------------------------------

# Derived from the High-scored (70-98) published sessions, not chosen by hand: a hint fires where fewer than 5 % of
# those counselors' messages would (`manage.py coaching_signals <kokorochat folder>`: 2,601 sessions, 128,417
# counselor messages; the 95th percentile of reply length is 79 characters, of response time 132 s, and 4 questions
# in a row close fewer than 5 % of their messages). docs/coaching.md.
QUESTION_STREAK = 4  # counselor messages in a row that are questions
LONG_REPLY_CHARS = 79  # characters: a longer reply triggers the hint
SLOW_RESPONSE_S = 132  # seconds after the client's message


def live_hints(turns: Sequence[Turn]) -> list[str]:
    """Codes of the score-lowering patterns at the end of the dialogue so far (newest counselor message)."""
    counselor = [t for t in turns if t.signals is not None]
    if not counselor:
        return []
    hints = []
    streak = 0
    for t in reversed(counselor):
        if not t.signals.is_question:
            break
        streak += 1
    if streak >= QUESTION_STREAK:
        hints.append("question_streak")
    last = counselor[-1]
    if last.signals.length > LONG_REPLY_CHARS:
        hints.append("long_reply")
    if last.response_s is not None and last.response_s > SLOW_RESPONSE_S:
        hints.append("slow_response")
    return hints
