"""Interactive Agents as published (Qiu & Lan 2024, arXiv:2408.15787): the counselor and client prompts and the
counselor's response refinement. Plain constants and pure functions (no Django).

* **Prompts**: our Japanese translations of the published Chinese prompts ``prompt/counselor_prompt.txt`` and
  ``prompt/client_prompt.txt`` of github.com/qiuhuachuan/interactive-agents (MIT licence; the paper's Figures 2
  and 3 show their English versions). The counselor prompt has the paper's three stages — early / middle / late
  in the prompt, *exploration → insight → action* in the paper's §2.5 (after Hill's integrative model) — and the
  nine counselor rules, in the published order. The stage names in brackets are the paper's terms, added by us.
* **Refinement** (§2.5 "Response refinement"): a *counselor* reply is acceptable only if (i) it is at most 200
  characters and (ii) it has no line break and no enumeration
  (bullets, ①, "1.", "2)", "(3)" — ``rules.ENUMERATION_RE``; a bare "3、4回" is ordinary prose and allowed). The paper filters such replies; we
  regenerate up to ``max_tries`` times and, as a last resort, flatten and trim the last candidate (flagged).
  The client is *not* refined: its published prompt asks for one or two sentences and no early thanks, and that
  is all the paper does for the client.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .rules import DEFAULT_MAX_TRIES, ENUMERATION_RE, RefinedReply, split_sentences

MAX_COUNSELOR_REPLY_CHARS = 200
PATIENCE_TURNS = 50  # the paper's sigma_T: at most 50 rounds

VIOLATION_TOO_LONG = "too_long"
VIOLATION_LINE_BREAK = "line_break"
VIOLATION_ENUMERATION = "enumeration"
VIOLATION_EMPTY = "empty"

IA_COUNSELOR_SYSTEM_PROMPT = (
    "あなたはバーチャル心理カウンセラーです。\n"
    "以下はシャオティエンの情報です：\n"
    "役名：シャオティエン（小天）\n"
    "性別：女性\n"
    "役の紹介：バーチャル心理カウンセラー。人間性心理学、精神分析、認知行動療法を得意とする。\n"
    "スキル：不健康な考え方に気づき、それに向き合うのを助け、心理的な支えと共感を提供する。\n"
    "対話のルール：自然で感情のこもった返答をする。役の特徴に従い、無意味な自問はしない。相手の感情に応じた反応をする。"
    "矛盾や繰り返しを避ける。「ルール」に言及しない。返答は簡潔に、1〜2文で。\n"
    "カウンセリングは一般に前期・中期・後期の3つの段階に分かれます：\n"
    "1. 前期（探索）：カウンセリングの方略は主に相談関係づくりを促し、クライアントの基本的な情報、特にいまの困難に似た"
    "過去の経験を集め、相談の目標をはっきりさせるために使います。クライアントの感情に応じて異なる心理カウンセリングの"
    "手法をとり、感情が落ち着いてから、いま困難や疑問があるかを探ります。\n"
    "2. 中期（洞察）：方略は主にクライアントが自分への気づきと成長を実現するよう導き、抑うつや不安の症状の改善など"
    "心の健康の水準や、日常生活の対人関係・学業・仕事での働きを高めるために使います。クライアントにとって大切な他者と"
    "クライアントとの関係や感情の反応、クライアント自身の感情・自己認識・行動での対処の仕方・身近な資源について深く"
    "分析し、探り、相談し、話し合い、クライアントがいまの困難や話し合いたい問題をはっきり言葉にできるようにします。\n"
    "3. 後期（行動）：方略はより多く、相談の期間全体を通じた感情の扱い・社会での働き・感情と行動の反応の3つの面での"
    "自分の変化と成長をクライアントがまとめられるよう導くことに向けます。クライアントが達成したい目標や期待をはっきり"
    "尋ね、対人関係や感情の扱いの問題を解決する計画を立てます。\n"
    "カウンセラーの対話の要件：\n"
    "1. 表現は短く、できるだけ話し言葉で自然にする。\n"
    "2. カウンセラーは心理学に関する教育しか受けていないので、心理カウンセリングに関する対話しか提供できない。\n"
    "3. 前期には「共感」をせず、必ずクライアントとの相談の対話履歴を踏まえて一歩ずつ考えてから、"
    "質問の形でいまの心の問題が存在する本当の原因を深く探る。\n"
    "4. 一度に多くの質問をしない。できるだけ一度に一つだけ質問し、クライアントとやりとりしながら一歩ずつ心の問題の"
    "原因を探る。\n"
    "5. 前期には「言い換え」や「承認」などの話法を使わない。\n"
    "6. 話し方は経験のある人間の心理カウンセラーを参考にし、できるだけ話し言葉にする。\n"
    "7. カウンセリングの前期・中期・後期の3つの段階に厳密に従い、それぞれに合った方略をとる。\n"
    "8. カウンセラーは自分から心理カウンセリングの流れを終わらせない。\n"
    "9. クライアントが考え、探るよう導くことを重視する。"
)

IA_CLIENT_SYSTEM_PROMPT_TEMPLATE = (
    "あなたは心理カウンセリングに来たクライアントです。\n"
    "以下はあなたの個人情報です：\n"
    "{card}\n\n"
    "クライアントの対話の要件：\n"
    "1. 自分の主訴に基づき、クライアントらしい話し方で、できるだけ話し言葉で自然に表現する。\n"
    "2. 個人情報に基づいてのみ答える。\n"
    "3. 相談したい問題を分解し、段階を追って少しずつカウンセラーに説明する。\n"
    "4. 1回の発言は1〜2文にし、話すときは自分の役を保つ。\n"
    "5. 早いうちに「ありがとう」「さようなら」を言わない。\n"
    "6. カウンセリングには50往復のやりとりが必要である。"
)


def counselor_reply_violations(text: str, *, max_chars: int = MAX_COUNSELOR_REPLY_CHARS) -> list[str]:
    """The paper's two criteria for a counselor reply (empty list = acceptable)."""
    norm = unicodedata.normalize("NFKC", text or "").strip()
    if not norm:
        return [VIOLATION_EMPTY]
    found = []
    if len(norm) > max_chars:
        found.append(VIOLATION_TOO_LONG)
    if "\n" in norm or "\r" in norm:
        found.append(VIOLATION_LINE_BREAK)
    if ENUMERATION_RE.search(text) or ENUMERATION_RE.search(norm):
        found.append(VIOLATION_ENUMERATION)
    return found


def trim_counselor_reply(text: str, *, max_chars: int = MAX_COUNSELOR_REPLY_CHARS) -> str:
    """Last resort: drop enumeration markers and line breaks, keep whole sentences within ``max_chars``."""
    flat = ENUMERATION_RE.sub(" ", unicodedata.normalize("NFKC", ENUMERATION_RE.sub(" ", text)))
    kept = ""
    for sentence in split_sentences(re.sub(r"\s+", " ", flat)):
        if len(kept) + len(sentence) > max_chars:
            break
        kept += sentence
    return (kept or flat.strip()[:max_chars]).strip()


def refine_counselor_reply(
    generate: Callable[[], str], *, max_tries: int = DEFAULT_MAX_TRIES, max_chars: int = MAX_COUNSELOR_REPLY_CHARS
) -> RefinedReply:
    """Call ``generate()`` until a counselor reply meets the criteria (``max_tries`` calls at most); otherwise
    trim the last candidate and set ``trimmed``."""
    rejected: list[list[str]] = []
    candidate = ""
    for attempt in range(1, max_tries + 1):
        candidate = generate()
        problems = counselor_reply_violations(candidate, max_chars=max_chars)
        if not problems:
            return RefinedReply(text=candidate.strip(), tries=attempt, violations=rejected)
        rejected.append(problems)
    return RefinedReply(
        text=trim_counselor_reply(candidate, max_chars=max_chars), tries=max_tries, trimmed=True, violations=rejected
    )
