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


# Invented English for LINES, message by message (the multilingual fixtures' ``content``).
LINES_EN = (
    "Hello. What would you like to talk about today?",
    "I have been a little tired lately because of work.",
    "Getting up in the morning is hard.",
    "That sounds hard. Could you tell me a bit more?",
    "Conversations with my boss do not go well.",
    "Thank you for telling me.",
)


def make_multilingual(jp: dict, texts: tuple[str, ...] | None = None) -> dict:
    """The multilingual object of a KokoroChat-format fixture (``texts``: one translation per message)."""
    texts = texts if texts is not None else tuple(LINES_EN[n % len(LINES_EN)] for n in range(len(jp["dialogue"])))
    return {
        "dialogue": [
            {"role": m["role"], "time": m["time"], "origin": m["utterance"], "content": t}
            for m, t in zip(jp["dialogue"], texts, strict=True)
        ],
        "topic": dict(jp["topic"]),
        "review_by_client": dict(jp["review_by_client_en"]),
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


def set_both(obj: dict, index: int, value) -> dict:
    """Set the ``index``-th value of both reviews (0 evaluation id, 2 client, 3 counselor, 4 score)."""
    for review in ("review_by_client_jp", "review_by_client_en"):
        key = list(obj[review])[index]
        obj[review][key] = value
    return obj


def hostile_files(base_id: int) -> dict[str, tuple[bytes, str]]:
    """{file name: (bytes, what the rejection names)}: files the database or the parser would refuse."""
    big = make_dialogue(evaluation_id=2**31)
    client_big = set_both(make_dialogue(evaluation_id=base_id + 1), 2, 2**31)
    past_63 = set_both(make_dialogue(evaluation_id=base_id + 2), 3, 2**63 + 5)
    nul = make_dialogue(evaluation_id=base_id + 3, lines=(("counselor", "あ\x00い"), ("client", "はい")))
    surrogate = dump(make_dialogue(evaluation_id=base_id + 4)).replace("上司との関係", "\\ud800上司", 1)
    dup = dump(make_dialogue(evaluation_id=base_id + 5)).replace('"topic": {', '"topic": {"sub": "x", ', 1)
    nan = dump(set_both(make_dialogue(evaluation_id=base_id + 6), 4, 0.25)).replace("0.25", "NaN")
    string_score = set_both(make_dialogue(evaluation_id=base_id + 7), 4, "73")
    return {
        "id-2-31.json": (dump(big).encode(), "2147483648"),
        "client-2-31.json": (dump(client_big).encode(), "2147483648"),
        "past-2-63.json": (dump(past_63).encode(), str(2**63 + 5)),
        "nul.json": (dump(nul).encode(), "U+0000"),
        "surrogate.json": (surrogate.encode(), "U+D800"),
        "duplicate-key.json": (dup.encode(), '"sub"'),
        "nan.json": (nan.encode(), "NaN"),
        "string-score.json": (dump(string_score).encode(), '"73"'),
        "latin1.json": ('{"a": "caf\u00e9"}'.encode("latin-1"), "UTF-8"),
        "empty.json": (b"", "JSON"),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "JSON"),
        "long-number.json": (b"1" * 5000, "4300"),
    }


def imported_data_delete() -> None:
    """Remove every imported session with its messages, translations, feedback and imported users (after a
    module that imported the published folders; raw deletes: 600,000 messages without per-row cascades)."""
    from feedback.dataset.importer import USERNAME_PREFIX
    from feedback.models import Feedback
    from roleplay.models import Message, MessageTranslation, Profile, Session, SessionSource

    sessions = Session.objects.filter(source=SessionSource.IMPORTED)
    translations = MessageTranslation.objects.filter(message__session__in=sessions)
    translations._raw_delete(translations.db)
    messages = Message.objects.filter(session__in=sessions)
    messages._raw_delete(messages.db)
    Feedback.objects.filter(session__in=sessions).delete()
    sessions.delete()
    users = Profile.objects.filter(user__username__startswith=USERNAME_PREFIX).values_list("user_id")
    Profile.objects.model._meta.get_field("user").related_model.objects.filter(pk__in=users).delete()
