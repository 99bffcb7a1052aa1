"""feedback.demo: the rated past sessions that seed_demo adds through roleplay.demo's seeder hook."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback.demo_dialogues import DIALOGUES
from feedback.models import Feedback
from roleplay.demo import demo_seeders
from roleplay.management.commands.seed_demo import COUNSELOR
from roleplay.models import Message, SessionStatus

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_feedback_registers_its_demo_seeder_when_the_app_is_ready():
    assert "feedback.rated_sessions" in dict(demo_seeders())


def test_seed_demo_adds_rated_past_sessions_once_so_the_ai_partners_can_answer():
    from models_ml.practice.selectors import partners_available

    assert not any(partners_available().values())  # a fresh install has nothing to answer from
    output = run()
    run()  # idempotent
    rated = Feedback.objects.select_related("session").order_by("session__starts_at")
    assert rated.count() == len(DIALOGUES) and f"{len(DIALOGUES)} rated past sessions" in output
    for feedback, dialogue in zip(rated, sorted(DIALOGUES, key=lambda d: -d.days_ago), strict=True):
        session = feedback.session
        assert session.status == SessionStatus.ENDED and session.counselor.username == COUNSELOR.username
        assert 70 <= feedback.total <= 98  # the High subset the built-in partner answers from
        assert [m.text for m in Message.objects.filter(session=session).order_by("seq")] == [
            text for _, text in dialogue.turns
        ]
        assert session.last_seq == len(dialogue.turns)
        assert session.ended_at < feedback.created_at < timezone.now() - timedelta(days=dialogue.days_ago - 1)
    assert all(partners_available().values())
