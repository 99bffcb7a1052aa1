"""Hand-made KokoroChat-format files with invented Japanese text (never the published data)."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from feedback.items import HEADER_EN, HEADER_JP, ITEMS, SCREENING_CHECKED_JP, SCREENINGS, compute_total

LINES = (
    ("counselor", "こんにちは。今日はどのようなことでお話ししたいですか。"),
    ("client", "最近、仕事のことで少し疲れています。"),
    ("client", "朝起きるのがつらいです。"),
    ("counselor", "それは大変でしたね。もう少し詳しく教えてください。"),
    ("client", "上司との会話がうまくいかなくて。"),
    ("counselor", "お話ししてくださってありがとうございます。"),
)


def make_dialogue(
    *,
    evaluation_id: int = 1,
    client_id: int = 101,
    counselor_id: int = 201,
    items: tuple[int, ...] = (3, 4, 2, 3, 3, 4, 2, 3, 4, 4, 5, 5, 3, 3, 3, 3, 5, 5, 5, 4),
    screenings: tuple[bool, bool, bool] = (False, False, False),
    score: int | None = None,
    lines: tuple[tuple[str, str], ...] = LINES,
    start: str = "2024-05-01T10:00:00",
    step_s: int = 60,
    created_at: str = "2024-05-01T11:30:00",
    topic: tuple[str, str] = ("職場問題", "Workplace Issues"),
    sub: str = "上司との関係",
) -> dict:
    t0 = datetime.fromisoformat(start)
    dialogue = [
        {"role": r, "time": (t0 + timedelta(seconds=step_s * n)).strftime("%Y-%m-%dT%H:%M:%S"), "utterance": u}
        for n, (r, u) in enumerate(lines)
    ]
    if score is None:
        score = compute_total(list(items), s1=screenings[0], s2=screenings[1], s3=screenings[2])
    values = [evaluation_id, created_at, client_id, counselor_id, score, *items]
    values += [SCREENING_CHECKED_JP if s else None for s in screenings]
    keys_jp = [*HEADER_JP, *(i.jp for i in ITEMS), *(s.jp for s in SCREENINGS)]
    keys_en = [*HEADER_EN, *(i.en for i in ITEMS), *(s.en for s in SCREENINGS)]
    return {
        "dialogue": dialogue,
        "topic": {"main_jp": topic[0], "main_en": topic[1], "sub": sub},
        "review_by_client_jp": dict(zip(keys_jp, values, strict=True)),
        "review_by_client_en": dict(zip(keys_en, values, strict=True)),
    }


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


def write_files(folder: Path, dialogues: dict[str, object]) -> Path:
    """Write {file name: object or raw text} into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, obj in dialogues.items():
        (folder / name).write_text(obj if isinstance(obj, str) else dump(obj), encoding="utf-8")
    return folder


@pytest.fixture
def dialogue_factory():
    return make_dialogue
