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
