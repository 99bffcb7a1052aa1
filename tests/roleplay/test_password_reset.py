"""Password reset by e-mail, end to end, rate limited per address and per IP; log-in lock-out
per IP across user names."""

import re

import pytest
from django.core import mail

from kokoro_site.ratelimit import rate_reset
from roleplay.views.accounts import ERR_RESET_TOO_MANY
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-fresh-Pass-4711"


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rate_reset("reset-")
    yield
    rate_reset("reset-")


def test_a_forgotten_password_is_reset_through_the_mailed_link(client):
    user = UserFactory(email="trainee@example.org")
    login_page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in login_page

    response = client.post("/accounts/password_reset/", {"email": "trainee@example.org"})
    assert response.status_code == 302 and response["Location"].endswith("/accounts/password_reset/done/")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["trainee@example.org"]
    link = re.search(r"/accounts/reset/[^/\s]+/[^/\s]+/", mail.outbox[0].body).group(0)

    set_password_url = client.get(link)["Location"]
    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"].endswith("/accounts/reset/done/")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.post("/accounts/login/", {"username": user.username, "password": NEW_PASSWORD}).status_code == 302


def test_reset_requests_are_limited_per_address(client, settings):
    settings.KOKORO_PASSWORD_RESET_PER_ADDRESS = 2
    UserFactory(email="many@example.org")
    statuses = [client.post("/accounts/password_reset/", {"email": "Many@example.org"}).status_code for _ in range(4)]
    assert statuses == [302, 302, 429, 429]
    assert len(mail.outbox) == 2
    refused = client.post("/accounts/password_reset/", {"email": "many@example.org"})
    assert str(ERR_RESET_TOO_MANY) in refused.content.decode()


def test_reset_requests_are_limited_per_ip_across_addresses(client, settings):
    settings.KOKORO_PASSWORD_RESET_PER_IP = 3
    for i in range(5):
        UserFactory(email=f"u{i}@example.org")
    statuses = [client.post("/accounts/password_reset/", {"email": f"u{i}@example.org"}).status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3


def test_failed_log_ins_from_one_ip_across_user_names_lock_that_ip_out(client, settings):
    settings.KOKORO_LOGIN_IP_FAILURE_LIMIT = 6
    users = [UserFactory() for _ in range(4)]
    for user in users[:3]:  # 2 wrong passwords each: below the per-user limit of 5
        for _ in range(2):
            assert client.post("/accounts/login/", {"username": user.username, "password": "wrong"}).status_code == 200
    response = client.post("/accounts/login/", {"username": users[3].username, "password": "pass-12345"})
    assert response.status_code == 429  # the right password of a fourth user, from the same IP
    other_ip = client.post(
        "/accounts/login/", {"username": users[3].username, "password": "pass-12345"}, REMOTE_ADDR="10.9.8.7"
    )
    assert other_ip.status_code == 302
