"""Dialogue records -> supervised examples for the two KokoroChat tasks, and the dataset splits.

A *record* is the KokoroChat JSON structure (``{"dialogue": [{"role", "time", "utterance"}, ...],
"review_by_client_jp": {"点数": ..., <20 item keys>: ...}, ...}``) or the same thing flattened as
``{"dialogue": [...], "items": [20 ints], "score": int}``. Examples are TRL *conversational
prompt-completion* rows: ``{"prompt": [messages...], "completion": [{"role": "assistant", ...}]}``,
so SFTTrainer computes the loss on the completion (the assistant turn) only.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .prompts import COUNSELOR_SYSTEM_PROMPT, RESPONSE_CLIENT_SYSTEM_PROMPT, SCORE_SYSTEM_PROMPT

ROLE_COUNSELOR = "counselor"
ROLE_CLIENT = "client"
SPEAKER_LABELS = {ROLE_COUNSELOR: "カウンセラー", ROLE_CLIENT: "クライアント"}
# The 20 item names of the published dataset's review_by_client_jp, in order. This library imports no
# Django, so it keeps its own copy; tests/models_ml/llm/test_data.py checks it equals feedback.items.
ITEM_NAMES: tuple[str, ...] = (
    "聴いてもらえた、わかってもらえたと感じた",
    "尊重されたと感じた",
    "新しい気づきや体験があった",
    "希望や期待を感じられた",
    "取り組みたかったことを扱えた",
    "一緒に考えながら取り組めた",
    "やりとりのリズムがあっていた",
    "居心地のよいやりとりだった",
    "全体として適切でよかった",
    "今回の相談は価値があった",
    "相談開始の円滑さ",
    "相談終了のタイミング（不必要に聴きすぎていないか）、円滑さ",
    "受容・共感",
    "肯定・承認",
    "的確な質問による会話の促進",
    "要約",
    "問題の明確化",
    "この相談での目標の明確化",
    "次の行動につながる提案",
    "勇気づけ・希望の喚起",
)
SCORE_KEY_JP = "点数"
TEST_SCORE_MIN = 99  # response task: dialogues scored 99-100 are the held-out test set
ITEM_MIN, ITEM_MAX = 0, 5

ERR_NO_DIALOGUE = "Record {rid} has no 'dialogue' list."
ERR_BAD_TURN = "Record {rid}, turn {index}: expected role 'counselor' or 'client' and a text 'utterance'."
ERR_NO_SCORES = "Record {rid} has neither 'review_by_client_jp' nor 'items'/'score'."
ERR_BAD_ITEMS = "Record {rid}: expected 20 item values between 0 and 5."
ERR_SCORE_PARSE = "Could not read 20 item scores (0-5) from the model output."
ERR_TOO_FEW_RECORDS = "Need at least {n} dialogues to build train and validation splits, got {got}."


@dataclass(frozen=True)
class Turn:
    role: str  # "counselor" | "client"
    text: str


@dataclass
class DialogueRecord:
    id: str
    turns: list[Turn]
    items: list[int] | None = None
    score: int | None = None
    topic: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def normalize_record(obj: dict[str, Any] | DialogueRecord, rid: str | int | None = None) -> DialogueRecord:
    """Validate one record and merge consecutive messages of the same speaker (joined by a line break)."""
    if isinstance(obj, DialogueRecord):
        return obj
    rid = str(obj.get("id", rid if rid is not None else "?"))
    dialogue = obj.get("dialogue")
    if not isinstance(dialogue, list):
        raise ValueError(ERR_NO_DIALOGUE.format(rid=rid))
    turns: list[Turn] = []
    for index, msg in enumerate(dialogue):
        role, text = (msg.get("role"), msg.get("utterance")) if isinstance(msg, dict) else (None, None)
        if role not in (ROLE_COUNSELOR, ROLE_CLIENT) or not isinstance(text, str):
            raise ValueError(ERR_BAD_TURN.format(rid=rid, index=index))
        text = text.strip()
        if not text:
            continue
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role, turns[-1].text + "\n" + text)
        else:
            turns.append(Turn(role, text))
    items, score = _read_scores(obj, rid)
    topic = obj.get("topic", {})
    topic_label = topic.get("main_jp", "") if isinstance(topic, dict) else str(topic or "")
    return DialogueRecord(id=rid, turns=turns, items=items, score=score, topic=topic_label)


def _read_scores(obj: dict[str, Any], rid: str) -> tuple[list[int] | None, int | None]:
    review = obj.get("review_by_client_jp")
    if isinstance(review, dict):
        raw_items = [review.get(name) for name in ITEM_NAMES]
        raw_score = review.get(SCORE_KEY_JP)
    elif "items" in obj or "score" in obj:
        raw_items = obj.get("items")
        raw_score = obj.get("score")
    else:
        return None, None
    items = None
    if raw_items is not None and not all(v is None for v in raw_items):
        try:
            items = [int(v) for v in raw_items]
        except (TypeError, ValueError):
            raise ValueError(ERR_BAD_ITEMS.format(rid=rid)) from None
        if len(items) != len(ITEM_NAMES) or any(not ITEM_MIN <= v <= ITEM_MAX for v in items):
            raise ValueError(ERR_BAD_ITEMS.format(rid=rid))
    score = int(raw_score) if raw_score is not None else (sum(items) if items else None)
    return items, score


def normalize_records(records: Iterable[dict[str, Any] | DialogueRecord]) -> list[DialogueRecord]:
    return [normalize_record(r, rid=i) for i, r in enumerate(records)]


# ---------------------------------------------------------------- response task


def chat_role(speaker: str, target_role: str) -> str:
    """Dataset speaker -> chat role: the speaker the model plays is the assistant, the other one the user."""
    return "assistant" if speaker == target_role else "user"


def build_response_examples(
    records: Iterable[dict[str, Any] | DialogueRecord],
    *,
    target_role: str = ROLE_COUNSELOR,
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """One example per turn of ``target_role`` that answers the other speaker: the whole history up to that
    turn is the prompt, the turn itself the completion."""
    if system_prompt is None:
        system_prompt = COUNSELOR_SYSTEM_PROMPT if target_role == ROLE_COUNSELOR else RESPONSE_CLIENT_SYSTEM_PROMPT
    examples = []
    for rec in normalize_records(records):
        history = [{"role": chat_role(t.role, target_role), "content": t.text} for t in rec.turns]
        for i, turn in enumerate(rec.turns):
            if i == 0 or turn.role != target_role:
                continue  # the first turn answers nobody; merged turns alternate so turns[i-1] is the partner
            examples.append(
                {
                    "prompt": [{"role": "system", "content": system_prompt}, *history[:i]],
                    "completion": [history[i]],
                }
            )
    return examples


# ---------------------------------------------------------------- score task


def format_transcript(turns: Sequence[Turn]) -> str:
    return "\n".join(f"{SPEAKER_LABELS[t.role]}: {t.text.replace(chr(10), ' ')}" for t in turns)


def format_scores(items: Sequence[int]) -> str:
    """The target text of the score task: one ``項目名: 値`` line per item, in questionnaire order."""
    return "\n".join(f"{name}: {int(v)}" for name, v in zip(ITEM_NAMES, items, strict=True))


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


_NORM_NAMES = [_norm(n) for n in ITEM_NAMES]


def parse_scores(text: str) -> list[int]:
    """Read 20 item scores from model output. Accepts, in order of preference: ``項目名: 値`` lines (any order,
    full-width digits, numbered prefixes), a JSON list of 20 numbers, a JSON object keyed by item name, or
    20 bare digits. Values are clamped to 0-5. Raises ``ValueError(ERR_SCORE_PARSE)``."""
    norm = unicodedata.normalize("NFKC", text)
    by_name: dict[int, int] = {}
    for line in norm.splitlines():
        m = re.match(r"^\s*(?:\d+\s*[.)]\s*)?(.+?)\s*[:=]\s*(-?\d+(?:\.\d+)?)", line)
        if not m:
            continue
        key = _norm(m.group(1)).strip("「」\"'*")
        for idx, name in enumerate(_NORM_NAMES):
            if key == name:
                by_name[idx] = _clamp(m.group(2))
                break
    if len(by_name) == len(ITEM_NAMES):
        return [by_name[i] for i in range(len(ITEM_NAMES))]
    for candidate in re.findall(r"[\[{].*[\]}]", norm, flags=re.S):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, list) and len(data) == len(ITEM_NAMES) and all(isinstance(v, int | float) for v in data):
            return [_clamp(v) for v in data]
        if isinstance(data, dict):
            keyed = {_norm(str(k)): v for k, v in data.items()}
            if all(n in keyed for n in _NORM_NAMES):
                return [_clamp(keyed[n]) for n in _NORM_NAMES]
    digits = re.findall(r"(?<![\d.])\d(?![\d.])", norm)
    if len(digits) == len(ITEM_NAMES):
        return [_clamp(d) for d in digits]
    raise ValueError(ERR_SCORE_PARSE)


def _clamp(value: Any) -> int:
    return max(ITEM_MIN, min(ITEM_MAX, round(float(value))))


def build_score_examples(
    records: Iterable[dict[str, Any] | DialogueRecord], *, system_prompt: str | None = None
) -> list[dict[str, Any]]:
    examples = []
    for rec in normalize_records(records):
        if rec.items is None:
            continue
        examples.append(
            {
                "prompt": [
                    {"role": "system", "content": system_prompt or SCORE_SYSTEM_PROMPT},
                    {"role": "user", "content": format_transcript(rec.turns)},
                ],
                "completion": [{"role": "assistant", "content": format_scores(rec.items)}],
            }
        )
    return examples


# ---------------------------------------------------------------- splits


@dataclass
class Split:
    train: list[DialogueRecord]
    validation: list[DialogueRecord]
    test: list[DialogueRecord]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def _train_val(rest: list[DialogueRecord], ratio: float, seed: int) -> tuple[list, list]:
    if len(rest) < 2:
        raise ValueError(ERR_TOO_FEW_RECORDS.format(n=2, got=len(rest)))
    rest = sorted(rest, key=lambda r: r.id)
    random.Random(seed).shuffle(rest)
    n_val = min(len(rest) - 1, max(1, round(len(rest) * ratio)))
    return rest[n_val:], rest[:n_val]


def split_response(
    records: Iterable[dict[str, Any] | DialogueRecord], *, seed: int = 42, validation_ratio: float = 0.1
) -> Split:
    """Test = every dialogue scored 99-100 (never trained on); the rest shuffled with ``seed`` into 90/10."""
    recs = normalize_records(records)
    test = [r for r in recs if r.score is not None and r.score >= TEST_SCORE_MIN]
    rest = [r for r in recs if not (r.score is not None and r.score >= TEST_SCORE_MIN)]
    train, val = _train_val(rest, validation_ratio, seed)
    return Split(train, val, test)


def split_score(
    records: Iterable[dict[str, Any] | DialogueRecord], *, seed: int = 42, test_seed: int = 42, test_ratio: float = 0.1
) -> Split:
    """8:1:1. The test part is drawn with the fixed ``test_seed`` so that it never changes between jobs;
    train/validation are drawn from the rest with ``seed``."""
    recs = sorted((r for r in normalize_records(records) if r.items is not None), key=lambda r: r.id)
    if len(recs) < 3:
        raise ValueError(ERR_TOO_FEW_RECORDS.format(n=3, got=len(recs)))
    shuffled = list(recs)
    random.Random(test_seed).shuffle(shuffled)
    n_test = max(1, round(len(recs) * test_ratio))
    test, rest = shuffled[:n_test], shuffled[n_test:]
    train, val = _train_val(rest, test_ratio / (1 - test_ratio), seed)
    return Split(train, val, test)
