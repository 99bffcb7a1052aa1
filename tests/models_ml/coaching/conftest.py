"""Fixtures of the coaching tests: sessions with invented Japanese text (counselor and client turns with
times), imported-format sessions (source "imported" + feedback), and a retrieval counselor model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from models_ml.coaching.services import backend_cache_clear
from roleplay.models import Role, SessionSource, SessionStatus
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory

# (role, seconds after the start, text) — invented text.
DIALOGUE = [
    (Role.COUNSELOR, 0, "こんにちは。今日はどんなことでご相談にいらっしゃいましたか？"),
    (Role.CLIENT, 30, "最近、仕事のことで眠れなくて困っています。"),
    (Role.COUNSELOR, 50, "眠れないほど悩んでいらっしゃるんですね。"),
    (Role.CLIENT, 90, "はい。上司に毎日注意されて、自分がだめに思えてきました。"),
    (Role.COUNSELOR, 250, "いつからですか？"),
    (Role.CLIENT, 280, "三か月くらい前からです。"),
    (Role.COUNSELOR, 300, "上司の方とはどんな関係ですか？"),
    (Role.CLIENT, 330, "あまり話しやすい人ではないです。"),
    (Role.COUNSELOR, 345, "つまり、注意されるたびに自信がなくなっていくということですね。"),
    (Role.CLIENT, 380, "そうなんです。少し話せてすっきりしました。"),
]


def make_session(*, dialogue=DIALOGUE, source=SessionSource.LIVE, status=SessionStatus.ENDED, total=None, **kwargs):
    # Ended sessions started an hour ago; live ones 10 minutes ago (not overdue: the socket would end them).
    start = timezone.now() - (timedelta(minutes=10) if status == SessionStatus.LIVE else timedelta(hours=1))
    session = SessionFactory(
        status=status,
        source=source,
        starts_at=start,
        started_at=start,
        ended_at=start + timedelta(minutes=10),
        **kwargs,
    )
    for seq, (role, offset, text) in enumerate(dialogue, start=1):
        sender = session.counselor if role == Role.COUNSELOR else session.client
        MessageFactory(
            session=session, seq=seq, role=role, text=text, sender=sender, created_at=start + timedelta(seconds=offset)
        )
    session.last_seq = len(dialogue)
    session.save(update_fields=["last_seq"])
    if total is not None:
        FeedbackFactory(session=session, total=total)
    return session


def make_imported(total: int, dialogue=DIALOGUE):
    """An imported-format dataset session: dataset participants, source imported, feedback."""
    counselor, client = UserFactory(), UserFactory()
    for user, dataset_id in ((counselor, 10_000 + counselor.pk), (client, 20_000 + client.pk)):
        user.profile.dataset_id = dataset_id
        user.profile.save(update_fields=["dataset_id"])
    return make_session(
        dialogue=dialogue, source=SessionSource.IMPORTED, total=total, counselor=counselor, client=client
    )


@pytest.fixture(autouse=True)
def _coaching_settings(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KOKORO_COACHING_DEBOUNCE_S = 0
    settings.KOKORO_ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.KOKORO_GENERATION_BACKENDS = {}
    backend_cache_clear()
    from models_ml.scoring.backends import clear_cache

    clear_cache()
    yield
    backend_cache_clear()
    clear_cache()


@pytest.fixture
def retrieval_model(db):
    """A counselor retrieval index built from High-rated sessions of the database (the partners' builder)."""
    from models_ml.finetuning.services import retrieval_index_build

    for i in range(3):
        make_session(total=80 + i)
    return retrieval_index_build(role="counselor")
