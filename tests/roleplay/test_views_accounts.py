import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from roleplay.forms import ERR_PASSWORD_MISMATCH
from roleplay.models import Profile
from roleplay.services import accounts as a
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()

SIGNUP = {
    "username": "taro",
    "password1": "kokoro-pass-9876",
    "password2": "kokoro-pass-9876",
    "display_name": "たろう",
    "gender": "",
    "age_band": "20s",
    "qualification": "trainee",
    "training_hours": "3",
    "preferred_role": "client",
}


def test_signup_creates_the_account_and_logs_in(client):
    response = client.post(reverse("signup"), SIGNUP)
    assert response.status_code == 302 and response.url == reverse("roleplay:dashboard")
    user = User.objects.get(username="taro")
    assert user.profile.display_name == "たろう" and user.profile.training_hours == 3
    assert client.get(reverse("roleplay:dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password2": "something-else-1"}, "password2", ERR_PASSWORD_MISMATCH),
        ({"password1": "123", "password2": "123"}, "password1", None),
        ({"display_name": ""}, "display_name", None),
        ({"training_hours": "-5"}, "training_hours", None),
        ({"preferred_role": "boss"}, "preferred_role", None),
        ({"username": "bad name!"}, "username", None),
    ],
)
def test_bad_signup_input_shows_errors_and_creates_nothing(client, change, field, message):
    response = client.post(reverse("signup"), SIGNUP | change)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    if message:
        assert str(message) in errors[field]
    assert not User.objects.exists() and not Profile.objects.exists()


def test_a_taken_user_name_is_shown_on_the_form(client):
    UserFactory(username="taro")
    response = client.post(reverse("signup"), SIGNUP)
    assert str(a.ERR_USERNAME_TAKEN) in response.context["form"].errors["username"]
    assert User.objects.count() == 1


def test_login_with_the_right_password_reaches_the_dashboard(client):
    UserFactory(username="kana")
    response = client.post(reverse("login"), {"username": "kana", "password": "pass-12345"})
    assert response.status_code == 302 and response.url == reverse("roleplay:dashboard")


def test_a_wrong_password_shows_a_clear_error(client):
    UserFactory(username="kana")
    response = client.post(reverse("login"), {"username": "kana", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_too_many_failed_logins_lock_the_account_with_a_clear_page(client, settings):
    UserFactory(username="kana")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(reverse("login"), {"username": "kana", "password": "nope"}).status_code == 200
    locked = client.post(reverse("login"), {"username": "kana", "password": "nope"})
    assert locked.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in locked.templates]
    # Even the right password is refused while locked.
    again = client.post(reverse("login"), {"username": "kana", "password": "pass-12345"})
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_callable_renders_the_same_page(rf, settings):
    from django.contrib.sessions.middleware import SessionMiddleware

    from roleplay.views.accounts import LOCKOUT_STATUS, lockout_response

    request = rf.post("/admin/login/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = UserFactory()
    response = lockout_response(request, None, {"username": "x"})
    assert response.status_code == LOCKOUT_STATUS
    assert str(settings.AXES_FAILURE_LIMIT).encode() in response.content


def test_profile_page_edits_the_profile(client):
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("profile"))
    assert page.status_code == 200 and user.profile.display_name in page.content.decode()
    data = {
        "display_name": "新しい名前",
        "gender": "female",
        "age_band": "40s",
        "qualification": "certified",
        "training_hours": "250",
        "preferred_role": "counselor",
    }
    assert client.post(reverse("profile"), data).status_code == 302
    user.profile.refresh_from_db()
    assert (user.profile.display_name, user.profile.qualification, user.profile.training_hours) == (
        "新しい名前",
        "certified",
        250,
    )


def test_bad_profile_input_changes_nothing(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("profile"),
        {"display_name": "x", "qualification": "trainee", "training_hours": "99999", "preferred_role": "either"},
    )
    assert response.status_code == 200 and "training_hours" in response.context["form"].errors
    user.profile.refresh_from_db()
    assert user.profile.display_name != "x"


def test_logout_needs_post_and_returns_to_login(client):
    client.force_login(UserFactory())
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert "_auth_user_id" not in client.session
