"""Account writes: sign-up (User + Profile together) and profile edits."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from roleplay.models import AgeBand, Gender, PreferredRole, Profile, Qualification

ERR_USERNAME_REQUIRED = _("Enter a user name.")
ERR_USERNAME_TAKEN = _("This user name is already taken.")
ERR_DISPLAY_NAME_REQUIRED = _("Enter a display name.")
ERR_DISPLAY_NAME_TOO_LONG = _("The display name can have at most 50 characters.")
ERR_TRAINING_HOURS_RANGE = _("Completed training hours must be between 0 and 10000.")
ERR_BAD_CHOICE = _("Select a valid choice.")
ERR_EMAIL_LANGUAGE = _("Choose Japanese or English for the e-mails.")

MAX_TRAINING_HOURS = 10000
DISPLAY_NAME_MAX = 50


def _clean_profile_fields(
    *, display_name: str, gender: str, age_band: str, qualification: str, training_hours: int, preferred_role: str
) -> dict:
    errors: dict[str, list] = {}
    display_name = (display_name or "").strip()
    if not display_name:
        errors.setdefault("display_name", []).append(ERR_DISPLAY_NAME_REQUIRED)
    elif len(display_name) > DISPLAY_NAME_MAX:
        errors.setdefault("display_name", []).append(ERR_DISPLAY_NAME_TOO_LONG)
    for field, value, choices in (
        ("gender", gender, Gender.values),
        ("age_band", age_band, AgeBand.values),
        ("qualification", qualification, Qualification.values),
        ("preferred_role", preferred_role, PreferredRole.values),
    ):
        if value not in choices:
            errors.setdefault(field, []).append(ERR_BAD_CHOICE)
    if not isinstance(training_hours, int) or not 0 <= training_hours <= MAX_TRAINING_HOURS:
        errors.setdefault("training_hours", []).append(ERR_TRAINING_HOURS_RANGE)
    if errors:
        raise ValidationError(errors)
    return {
        "display_name": display_name,
        "gender": gender,
        "age_band": age_band,
        "qualification": qualification,
        "training_hours": training_hours,
        "preferred_role": preferred_role,
    }


@transaction.atomic
def user_signup(
    *,
    username: str,
    password: str,
    display_name: str,
    gender: str = Gender.UNSPECIFIED,
    age_band: str = AgeBand.UNSPECIFIED,
    qualification: str = Qualification.TRAINEE,
    training_hours: int = 0,
    preferred_role: str = PreferredRole.EITHER,
) -> AbstractBaseUser:
    """Create the user and the profile in one transaction (both or neither)."""
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": [ERR_USERNAME_REQUIRED]})
    fields = _clean_profile_fields(
        display_name=display_name,
        gender=gender,
        age_band=age_band,
        qualification=qualification,
        training_hours=training_hours,
        preferred_role=preferred_role,
    )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [ERR_USERNAME_TAKEN]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password)
    except IntegrityError as exc:  # lost a race for the same name
        raise ValidationError({"username": [ERR_USERNAME_TAKEN]}) from exc
    Profile.objects.create(user=user, **fields)
    return user


@transaction.atomic
def profile_update(
    *,
    user: AbstractBaseUser,
    display_name: str,
    gender: str,
    age_band: str,
    qualification: str,
    training_hours: int,
    preferred_role: str,
) -> Profile:
    fields = _clean_profile_fields(
        display_name=display_name,
        gender=gender,
        age_band=age_band,
        qualification=qualification,
        training_hours=training_hours,
        preferred_role=preferred_role,
    )
    profile = profile_ensure(user=user)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save(update_fields=list(fields))
    return profile


@transaction.atomic
def profile_notifications_update(
    *, user: AbstractBaseUser, email: str, email_notifications: bool, email_language: str
) -> Profile:
    """E-mail address and notification e-mail settings (the site list is always on)."""
    profile = profile_ensure(user=user)
    if email_language not in dict(settings.LANGUAGES):
        raise ValidationError({"email_language": [ERR_EMAIL_LANGUAGE]})
    user.email = email.strip()
    user.save(update_fields=["email"])
    profile.email_notifications = bool(email_notifications)
    profile.email_language = email_language
    profile.save(update_fields=["email_notifications", "email_language"])
    return profile


def profile_ensure(*, user: AbstractBaseUser) -> Profile:
    """The user's profile, created with the user name as display name if missing (e.g. createsuperuser)."""
    profile, _created = Profile.objects.get_or_create(user=user, defaults={"display_name": user.get_username()[:50]})
    return profile
