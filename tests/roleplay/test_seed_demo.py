from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from roleplay.management.commands.seed_demo import ACCOUNTS, CLIENT, COUNSELOR
from roleplay.models import Session, SessionStatus

pytestmark = pytest.mark.django_db
User = get_user_model()


def run() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_accounts_and_a_live_and_a_scheduled_session():
    output = run()
    for account in ACCOUNTS:
        user = User.objects.get(username=account.username)
        assert user.check_password(account.password)
        assert user.profile.display_name == account.display_name
        assert account.username in output and account.password in output
    assert User.objects.get(username="admin").is_superuser
    live = Session.objects.get(status=SessionStatus.LIVE)
    assert (live.counselor.username, live.client.username) == (COUNSELOR.username, CLIENT.username)
    assert live.starts_at <= timezone.now() < live.ends_at
    upcoming = Session.objects.get(status=SessionStatus.SCHEDULED)
    assert upcoming.starts_at > timezone.now() + timedelta(hours=1)
    assert f"/sessions/{live.pk}/" in output


def test_seed_demo_is_idempotent_and_resets_passwords():
    run()
    counselor = User.objects.get(username=COUNSELOR.username)
    counselor.set_password("changed-by-someone")
    counselor.save()
    run()
    assert User.objects.filter(username__in=[a.username for a in ACCOUNTS]).count() == len(ACCOUNTS)
    assert Session.objects.filter(status=SessionStatus.LIVE).count() == 1
    assert Session.objects.filter(status=SessionStatus.SCHEDULED).count() == 1
    counselor.refresh_from_db()
    assert counselor.check_password(COUNSELOR.password)


def test_seed_demo_replaces_a_live_session_that_is_over():
    run()
    old = Session.objects.get(status=SessionStatus.LIVE)
    Session.objects.filter(pk=old.pk).update(starts_at=timezone.now() - timedelta(hours=2))
    run()
    old.refresh_from_db()
    assert old.status == SessionStatus.ENDED
    new = Session.objects.get(status=SessionStatus.LIVE)
    assert new.pk != old.pk and new.ends_at > timezone.now()


def test_seed_demo_adds_rated_past_sessions_once_so_the_ai_partners_can_answer():
    from feedback.models import Feedback
    from models_ml.practice.selectors import partners_available
    from roleplay.management.commands._demo_dialogues import DIALOGUES
    from roleplay.models import Message

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
