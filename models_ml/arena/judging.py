"""Japanese prompts of the LLM judges (arena, topic, WAI-O-S) and robust parsing of their answers (no ORM)."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from roleplay.topics import TOPIC_LABELS

ERR_JUDGE_PARSE = "The judge's answer names neither A nor B."
ERR_TOPIC_PARSE = "The topic answer is not a JSON object with a category and a sub-topic."
ERR_TOPIC_CATEGORY = "Unknown topic category {category!r}."
ERR_WAI_PARSE = "The WAI answer does not give 12 ratings from 1 to 7."

# The paper's supervisor principles (Interactive Agents, professional counselors' criteria).
PRINCIPLES = (
    "傾聴：相談者の話を遮らず、要点を正確に受け止め、それを言葉で返しているか",
    "共感：相談者の気持ちを汲み取り、その感情に寄り添う言葉を返しているか",
    "明確化：曖昧な点を確かめ、相談者の状況や気持ちをはっきりさせているか",
    "開かれた質問：はい・いいえで終わらない質問で、相談者が自由に話せるようにしているか",
    "自己探索の促進：相談者が自分の考えや気持ちを振り返り、気づきを得られるよう促しているか",
    "認知の再構成：偏った捉え方に気づかせ、別の見方を一緒に考えているか",
    "導く質問：答えを押し付けず、相談者が自分で解決の糸口を見つけられる質問をしているか",
    "非審判的態度：相談者を評価したり責めたりせず、受容的な姿勢を保っているか",
)

ARENA_JUDGE_SYSTEM = (
    "あなたは経験豊富なカウンセリングのスーパーバイザーです。"
    "オンラインのテキストカウンセリングの対話と、その続きとしてカウンセラーが返す候補の発言AとBを読み、"
    "次の原則に照らして、より良いカウンセラーの発言を一つ選んでください。\n"
    + "\n".join(f"- {p}" for p in PRINCIPLES)
    + "\n候補が示される順番や長さに影響されないでください。"
    "短い理由を書いた後、最後の行に「判定: A」または「判定: B」とだけ書いてください。"
)


def transcript(history: list[dict[str, str]]) -> str:
    names = {"counselor": "カウンセラー", "client": "クライアント"}
    return "\n".join(f"{names.get(t['role'], t['role'])}: {t['text']}" for t in history)


def arena_judge_messages(history: list[dict[str, str]], first: str, second: str) -> list[dict[str, str]]:
    user = f"# これまでの対話\n{transcript(history)}\n\n# 候補A\n{first}\n\n# 候補B\n{second}\n\nどちらが良いですか。"
    return [{"role": "system", "content": ARENA_JUDGE_SYSTEM}, {"role": "user", "content": user}]


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


# --- WAI-O-S -----------------------------------------------------------------------------------------

# Working Alliance Inventory, observer short form: 12 items in three groups. Our own Japanese paraphrases.
WAI_ITEMS: tuple[tuple[str, str], ...] = (
    ("goal", "カウンセラーとクライアントは、相談で目指すことについて合意している。"),
    ("goal", "二人は、クライアントにとってどんな変化が大切かを共有している。"),
    ("goal", "クライアントは、自分の望む方向をカウンセラーが理解していると感じている様子である。"),
    ("goal", "二人は、取り組むべき問題を一緒にはっきりさせている。"),
    ("task", "クライアントは、相談の進め方が自分の問題に役立つと受け止めている。"),
    ("task", "二人は、この対話の中で何に取り組むかについて同意している。"),
    ("task", "相談で扱っている内容が適切だと、二人とも考えている様子である。"),
    ("task", "クライアントは、相談で得た見方ややり方を試そうとしている。"),
    ("bond", "クライアントとカウンセラーの間に信頼関係がある。"),
    ("bond", "カウンセラーはクライアントに思いやりと敬意を示している。"),
    ("bond", "クライアントは、カウンセラーに安心して話せている様子である。"),
    ("bond", "二人の間に、互いを大切にする温かな関係が感じられる。"),
)
WAI_GROUPS = ("goal", "task", "bond")

WAI_SYSTEM = (
    "あなたはカウンセリング研究の観察評価者です。対話全体を読み、カウンセラーとクライアントの作業同盟について、"
    "次の12項目をそれぞれ1（まったく当てはまらない）から7（非常に当てはまる）の整数で評価してください。\n"
    + "\n".join(f"{i}. {text}" for i, (_g, text) in enumerate(WAI_ITEMS, start=1))
    + '\n出力はJSONのみ: {"scores": [12個の整数]}'
)


def wai_messages(history: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": WAI_SYSTEM}, {"role": "user", "content": transcript(history)}]


_WAI_LINE = re.compile(r"^\s*(\d{1,2})\s*[.．:：)）]\s*(?:[^\d\n]*?)([1-7])\s*$", re.M)


def parse_wai_answer(text: str) -> list[int]:
    """12 integers 1–7 from a JSON list / {"scores": [...]} / {"1": 5, ...} or "1: 5" lines. Raises ValueError."""
    norm = _norm(text)
    obj = _json_object(norm)
    values: Any = None
    if isinstance(obj, dict):
        values = obj.get("scores", obj.get("items"))
        if values is None and all(str(i) in obj for i in range(1, 13)):
            values = [obj[str(i)] for i in range(1, 13)]
    if values is None:
        match = re.search(r"\[[^\[\]]*\]", norm)
        if match:
            try:
                values = json.loads(match.group(0))
            except json.JSONDecodeError:
                values = None
    if values is None:
        lines = {int(n): int(v) for n, v in _WAI_LINE.findall(norm)}
        if all(i in lines for i in range(1, 13)):
            values = [lines[i] for i in range(1, 13)]
    if not isinstance(values, list) or len(values) != 12:
        raise ValueError(ERR_WAI_PARSE)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise ValueError(ERR_WAI_PARSE)
        try:
            number = float(v)
        except ValueError:
            raise ValueError(ERR_WAI_PARSE) from None
        if number != int(number) or not 1 <= number <= 7:
            raise ValueError(ERR_WAI_PARSE)
        out.append(int(number))
    return out


def wai_means(items: list[int]) -> dict[str, float]:
    groups: dict[str, list[int]] = {g: [] for g in WAI_GROUPS}
    for (group, _text), value in zip(WAI_ITEMS, items, strict=True):
        groups[group].append(value)
    out = {g: sum(v) / len(v) for g, v in groups.items()}
    out["total"] = sum(items) / len(items)
    return out
