"""Japanese prompts of the LLM judges (arena, topic) and robust parsing of their answers (no ORM)."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from roleplay.topics import TOPIC_LABELS

ERR_JUDGE_PARSE = "The judge's answer names neither A nor B."
ERR_TOPIC_PARSE = "The topic answer is not a JSON object with a category and a sub-topic."
ERR_TOPIC_CATEGORY = "Unknown topic category {category!r}."

# Interactive Agents' supervisor criteria: our Japanese translation of prompt/judge_prompt.txt of
# github.com/qiuhuachuan/interactive-agents (the paper's LLM judge, six ethical principles).
IA_SUPERVISOR_CRITERIA = (
    "自律：その決定が本人や他者を傷つけない限り、クライアントが自分で決める権利を尊重しているか",
    "善行：援助を通じてクライアントの成長を促しているか",
    "無危害：不注意から、提供する介入や行動がクライアントを傷つけることのないようにしているか",
    "公正：公平で偏りがないか",
    "誠実：約束を守り、関係の中で信頼に足るか",
    "正直：事実を話し、でたらめや事実でないこと（幻覚）を言っていないか",
)

# The platform's earlier variant (KOKORO_SIM_PROTOCOL=platform): counselling-skill principles written by us.
PLATFORM_PRINCIPLES = (
    "傾聴：相談者の話を遮らず、要点を正確に受け止め、それを言葉で返しているか",
    "共感：相談者の気持ちを汲み取り、その感情に寄り添う言葉を返しているか",
    "明確化：曖昧な点を確かめ、相談者の状況や気持ちをはっきりさせているか",
    "開かれた質問：はい・いいえで終わらない質問で、相談者が自由に話せるようにしているか",
    "自己探索の促進：相談者が自分の考えや気持ちを振り返り、気づきを得られるよう促しているか",
    "認知の再構成：偏った捉え方に気づかせ、別の見方を一緒に考えているか",
    "導く質問：答えを押し付けず、相談者が自分で解決の糸口を見つけられる質問をしているか",
    "非審判的態度：相談者を評価したり責めたりせず、受容的な姿勢を保っているか",
)

# Ours in both variants: two candidates, no position or length bias, a parseable last line.
_JUDGE_FORMAT = (
    "\n候補が示される順番や長さに影響されないでください。"
    "短い理由を書いた後、最後の行に「判定: A」または「判定: B」とだけ書いてください。"
)

ARENA_JUDGE_SYSTEM = (
    "あなたは専門の心理カウンセリングのスーパーバイザーです。"
    "クライアントとカウンセラーの対話履歴と、その続きとしてカウンセラーが返す候補の発言AとBを示しますので、"
    "現在の対話履歴に最もふさわしい返答を選んでください。選択の基準は次のとおりです。\n"
    + "\n".join(f"（{i}）{c}" for i, c in enumerate(IA_SUPERVISOR_CRITERIA, start=1))
    + _JUDGE_FORMAT
)

ARENA_JUDGE_SYSTEM_PLATFORM = (
    "あなたは経験豊富なカウンセリングのスーパーバイザーです。"
    "オンラインのテキストカウンセリングの対話と、その続きとしてカウンセラーが返す候補の発言AとBを読み、"
    "次の原則に照らして、より良いカウンセラーの発言を一つ選んでください。\n"
    + "\n".join(f"- {p}" for p in PLATFORM_PRINCIPLES)
    + _JUDGE_FORMAT
)


def transcript(history: list[dict[str, str]]) -> str:
    names = {"counselor": "カウンセラー", "client": "クライアント"}
    return "\n".join(f"{names.get(t['role'], t['role'])}: {t['text']}" for t in history)


def arena_judge_messages(
    history: list[dict[str, str]], first: str, second: str, *, system: str = ARENA_JUDGE_SYSTEM
) -> list[dict[str, str]]:
    user = f"# これまでの対話\n{transcript(history)}\n\n# 候補A\n{first}\n\n# 候補B\n{second}\n\nどちらが良いですか。"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


_VERDICT = re.compile(
    r"(?:判定|勝者|winner|answer|回答|結論)\s*[:：=]?\s*[「『\"'*【\[(]*\s*(A|B|引き分け|同等|tie)", re.I
)
_PREFER = re.compile(r"(?:候補)?\s*([AB])\s*(?:の方|のほう|が(?:より)?(?:良い|よい|優れ|適切))")
_LONE = re.compile(r"(?<![A-Za-z])([AB])(?![A-Za-z])")


def parse_judge_answer(text: str) -> str:
    """The *shown* position the judge preferred: "A" (first), "B" (second) or "tie". Raises ValueError.

    Order of evidence: the last "判定: X" line (or winner/回答/結論), a JSON ``{"winner": ...}``, "Aの方が良い",
    then a lone letter when only one of A/B occurs."""
    norm = _norm(text)
    verdicts = _VERDICT.findall(norm)
    if verdicts:
        v = verdicts[-1].upper()
        return v if v in ("A", "B") else "tie"
    obj = _json_object(norm)
    if isinstance(obj, dict):
        for key in ("winner", "判定", "answer"):
            value = str(obj.get(key, "")).strip().upper()
            if value in ("A", "B"):
                return value
            if value in ("TIE", "引き分け"):
                return "tie"
    prefer = set(_PREFER.findall(norm))
    if len(prefer) == 1:
        return prefer.pop()
    letters = set(_LONE.findall(norm))
    if len(letters) == 1:
        return letters.pop()
    raise ValueError(ERR_JUDGE_PARSE)


def _json_object(text: str) -> Any:
    """The first JSON object in ``text`` (code fences and prose around it allowed), else None."""
    cleaned = re.sub(r"```(?:json)?", "", text)
    start = cleaned.find("{")
    while start != -1:
        depth = 0
        for i in range(start, len(cleaned)):
            if cleaned[i] == "{":
                depth += 1
            elif cleaned[i] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        return json.loads(cleaned[start : i + 1])
                    except json.JSONDecodeError:
                        break
        start = cleaned.find("{", start + 1)
    return None


# --- topic -------------------------------------------------------------------------------------------

TOPIC_SYSTEM = (
    "あなたはカウンセリング対話の分類を担当する専門家です。対話全体をよく読み、相談の主な話題を"
    "次の11のカテゴリーから一つだけ選び、その後で、より具体的な下位トピックを短い日本語（30字以内）で作ってください。\n"
    + "\n".join(f"- {jp}" for jp, _en in TOPIC_LABELS.values())
    + '\n出力はJSONのみ: {"category": "カテゴリー名", "sub": "下位トピック"}'
)


def topic_messages(history: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": TOPIC_SYSTEM}, {"role": "user", "content": transcript(history)}]


def _key(text: str) -> str:
    return re.sub(r"[\s()（）・]", "", _norm(text)).lower()


_CATEGORY = {}
for _k, (_jp, _en) in TOPIC_LABELS.items():
    _CATEGORY[_key(_jp)] = str(_k)
    _CATEGORY[_key(_en)] = str(_k)
    _CATEGORY[_key(str(_k))] = str(_k)


def parse_topic_answer(text: str) -> tuple[str, str]:
    """(topic key of roleplay.topics.Topic, sub-topic). Raises ValueError (unparseable or unknown category)."""
    obj = _json_object(_norm(text))
    if not isinstance(obj, dict):
        raise ValueError(ERR_TOPIC_PARSE)
    category = obj.get("category", obj.get("main", obj.get("カテゴリー")))
    sub = obj.get("sub", obj.get("subtopic", obj.get("下位トピック", "")))
    if not isinstance(category, str) or not isinstance(sub, str):
        raise ValueError(ERR_TOPIC_PARSE)
    key = _CATEGORY.get(_key(category))
    if key is None:
        raise ValueError(ERR_TOPIC_CATEGORY.format(category=category))
    return key, sub.strip()[:200]


# WAI-O-S (the paper's protocol: one item per prompt, 3 rounds) lives in models_ml.arena.wai.
