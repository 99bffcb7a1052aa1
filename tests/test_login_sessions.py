"""Log-ins end at browser close or after KOKORO_SESSION_IDLE_MINUTES without activity."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session as LoginSession
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _log_in(client, user):
    response = client.post("/accounts/login/", {"username": user.username, "password": "pass-12345"})
    assert response.status_code == 302
    return response


def test_the_session_cookie_ends_with_the_browser(client, settings):
    response = _log_in(client, UserFactory())
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["expires"] == "" and cookie["max-age"] == ""


def test_an_idle_login_expires_after_the_configured_minutes(client, settings):
    _log_in(client, UserFactory())
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    expires = LoginSession.objects.get(session_key=key).expire_date
    idle = timedelta(minutes=settings.KOKORO_SESSION_IDLE_MINUTES)
    assert abs((expires - timezone.now()) - idle) < timedelta(seconds=30)

    LoginSession.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_activity_moves_the_idle_expiry_forward(client, settings):
    _log_in(client, UserFactory())
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    soon = timezone.now() + timedelta(minutes=2)
    LoginSession.objects.filter(session_key=key).update(expire_date=soon)
    assert client.get("/").status_code == 200
    assert LoginSession.objects.get(session_key=key).expire_date > soon + timedelta(minutes=30)
