import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from roleplay.models import PreferredRole, Profile, Qualification
from roleplay.services import accounts as a
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()

GOOD = {
    "username": "hanako",
    "password": "kokoro-pass-9876",
    "display_name": "はなこ",
    "gender": "female",
    "age_band": "30s",
    "qualification": Qualification.CERTIFIED,
    "training_hours": 120,
    "preferred_role": PreferredRole.COUNSELOR,
}


def test_signup_creates_the_user_and_the_profile_together():
    user = a.user_signup(**GOOD)
    assert user.check_password(GOOD["password"])
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.qualification, profile.training_hours, profile.preferred_role) == (
        "はなこ",
        Qualification.CERTIFIED,
        120,
        PreferredRole.COUNSELOR,
    )


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"username": "  "}, "username", a.ERR_USERNAME_REQUIRED),
        ({"display_name": "   "}, "display_name", a.ERR_DISPLAY_NAME_REQUIRED),
        ({"display_name": "x" * 51}, "display_name", a.ERR_DISPLAY_NAME_TOO_LONG),
        ({"training_hours": -1}, "training_hours", a.ERR_TRAINING_HOURS_RANGE),
        ({"training_hours": 10001}, "training_hours", a.ERR_TRAINING_HOURS_RANGE),
        ({"qualification": "doctor"}, "qualification", a.ERR_BAD_CHOICE),
        ({"preferred_role": "observer"}, "preferred_role", a.ERR_BAD_CHOICE),
        ({"gender": "x"}, "gender", a.ERR_BAD_CHOICE),
        ({"age_band": "5s"}, "age_band", a.ERR_BAD_CHOICE),
    ],
)
def test_bad_signup_input_is_rejected_and_nothing_is_saved(change, field, error):
    with pytest.raises(ValidationError) as exc:
        a.user_signup(**(GOOD | change))
    assert str(error) in [str(m) for m in exc.value.message_dict[field]]
    assert not User.objects.exists() and not Profile.objects.exists()


def test_a_taken_user_name_is_rejected_case_insensitively():
    UserFactory(username="Hanako")
    with pytest.raises(ValidationError) as exc:
        a.user_signup(**GOOD)
    assert exc.value.message_dict["username"] == [str(a.ERR_USERNAME_TAKEN)]
    assert User.objects.count() == 1


def test_signup_leaves_no_user_behind_when_the_profile_cannot_be_saved(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Profile.objects, "create", broken)
    with pytest.raises(RuntimeError):
        a.user_signup(**GOOD)
    assert not User.objects.filter(username="hanako").exists()


def test_profile_update_saves_every_field():
    user = UserFactory()
    a.profile_update(
        user=user,
        display_name=" ゆき ",
        gender="other",
        age_band="60+",
        qualification=Qualification.TRAINEE,
        training_hours=7,
        preferred_role=PreferredRole.CLIENT,
    )
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.gender, profile.age_band, profile.training_hours, profile.preferred_role) == (
        "ゆき",
        "other",
        "60+",
        7,
        PreferredRole.CLIENT,
    )


def test_bad_profile_update_changes_nothing():
    user = UserFactory()
    before = Profile.objects.get(user=user).display_name
    with pytest.raises(ValidationError):
        a.profile_update(
            user=user,
            display_name="",
            gender="",
            age_band="",
            qualification=Qualification.TRAINEE,
            training_hours=3,
            preferred_role=PreferredRole.EITHER,
        )
    profile = Profile.objects.get(user=user)
    assert (profile.display_name, profile.training_hours) == (before, 0)


def test_profile_ensure_creates_a_missing_profile_from_the_user_name():
    user = User.objects.create_user(username="root-admin", password="x-12345-y")
    assert a.profile_ensure(user=user).display_name == "root-admin"
    assert a.profile_ensure(user=user).pk == Profile.objects.get(user=user).pk
