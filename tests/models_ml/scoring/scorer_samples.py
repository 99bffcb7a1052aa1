"""Small invented labelled samples for the auto-scorer's tests (never the published dataset).

"Warm" sessions (empathic counselor, relieved client) are rated high, "cold" ones low, so a
working scorer must separate them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from feedback.items import ITEMS, compute_total
from models_ml.scoring.records import LabelledDialogue, Utterance
from roleplay.models import SessionStatus
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

WARM_COUNSELOR = [
    "それはとてもつらかったですね。",
    "お気持ちよくわかります。",
    "少しずつ一緒に考えていきましょう。",
    "話してくださってありがとうございます。",
]
WARM_CLIENT = [
    "聞いてもらえて安心しました。",
    "気持ちが楽になりました。",
    "ありがとうございました、前向きになれそうです。",
]
COLD_COUNSELOR = ["はい。", "それで？", "そうですか。", "次の話をしてください。"]
COLD_CLIENT = ["よくわかりません。", "あまり話せなかったです。", "もういいです。"]
OPENING = ["最近、仕事のことで悩んでいます。", "家族との関係がうまくいきません。", "眠れない日が続いています。"]


def sample_items(warm: bool, rng: random.Random) -> list[int]:
    base = 4 if warm else 1
    return [max(0, min(5, base + rng.choice((-1, 0, 0, 1)))) for _ in ITEMS]


def sample_messages(warm: bool, rng: random.Random, n: int = 12) -> list[tuple[str, str]]:
    msgs = [("counselor", "こんにちは。相談員です。"), ("client", rng.choice(OPENING))]
    while len(msgs) < n:
        if warm:
            msgs += [("counselor", rng.choice(WARM_COUNSELOR)), ("client", rng.choice(WARM_CLIENT))]
        else:
            msgs += [("counselor", rng.choice(COLD_COUNSELOR)), ("client", rng.choice(COLD_CLIENT))]
    return msgs[:n]


def sample_records(n: int = 60, seed: int = 7) -> list[LabelledDialogue]:
    rng = random.Random(seed)
    out = []
    start = datetime(2024, 1, 1, 10, 0)
    for i in range(n):
        warm = i % 2 == 0
        msgs = sample_messages(warm, rng, n=rng.randint(8, 16))
        out.append(
            LabelledDialogue(
                session_key=str(i),
                messages=[Utterance(r, start + timedelta(minutes=k), t) for k, (r, t) in enumerate(msgs)],
                items=tuple(sample_items(warm, rng)),
                screening=(False, False, (not warm) and i % 10 == 1),
                client_key=f"p{100 + i % 5}",
                counselor_key=f"p{200 + i % 3}",
            )
        )
    return out


def make_session_with_messages(*, warm: bool = True, n: int = 12, seed: int = 0, **session_kwargs):
    rng = random.Random(seed)
    session = SessionFactory(status=SessionStatus.ENDED, ended_at=timezone.now(), **session_kwargs)
    for k, (role, text) in enumerate(sample_messages(warm, rng, n=n), start=1):
        MessageFactory(
            session=session,
            seq=k,
            role=role,
            text=text,
            sender=session.counselor if role == "counselor" else session.client,
            created_at=session.starts_at + timedelta(minutes=k),
        )
    session.last_seq = n
    session.save(update_fields=["last_seq"])
    return session


def make_labelled_sessions(count: int, *, seed: int = 3) -> list:
    """Ended sessions with messages and the client's feedback, alternating warm/cold."""
    rng = random.Random(seed)
    counselors = [UserFactory() for _ in range(3)]
    clients = [UserFactory() for _ in range(4)]
    sessions = []
    for i in range(count):
        warm = i % 2 == 0
        s = make_session_with_messages(
            warm=warm, n=rng.randint(8, 14), seed=seed * 1000 + i, counselor=counselors[i % 3], client=clients[i % 4]
        )
        items = sample_items(warm, rng)
        FeedbackFactory(
            session=s,
            total=compute_total(items, s1=False, s2=False, s3=False),
            **{item.field: v for item, v in zip(ITEMS, items, strict=True)},
        )
        sessions.append(s)
    return sessions
