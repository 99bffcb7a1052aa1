"""Forms: input parsing and widgets only; the rules live in the services."""

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import UsernameField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from roleplay.models import AgeBand, Gender, PreferredRole, Profile, Qualification, Role, Session
from roleplay.services.accounts import MAX_TRAINING_HOURS
from roleplay.services.matching import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from roleplay.topics import Topic

DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
ERR_PASSWORD_MISMATCH = _("The two passwords do not match.")


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=DATETIME_LOCAL_FORMAT)


def _datetime_field(label) -> forms.DateTimeField:
    # Naive input is read in the current time zone (Asia/Tokyo) by Django.
    return forms.DateTimeField(label=label, widget=DateTimeLocalInput(), input_formats=[DATETIME_LOCAL_FORMAT])


class ProfileFieldsMixin(forms.Form):
    display_name = forms.CharField(
        label=_("Display name"), max_length=50, help_text=_("Shown to your partners. Use a nickname.")
    )
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    age_band = forms.ChoiceField(label=_("Age band"), choices=AgeBand.choices, required=False)
    qualification = forms.ChoiceField(
        label=_("Qualification"), choices=Qualification.choices, initial=Qualification.TRAINEE
    )
    training_hours = forms.IntegerField(
        label=_("Completed training hours"),
        min_value=0,
        max_value=MAX_TRAINING_HOURS,
        initial=0,
    )
    preferred_role = forms.ChoiceField(
        label=_("Preferred role"), choices=PreferredRole.choices, initial=PreferredRole.EITHER
    )

    PROFILE_FIELDS = ("display_name", "gender", "age_band", "qualification", "training_hours", "preferred_role")

    def profile_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.PROFILE_FIELDS}


class SignupForm(ProfileFieldsMixin):
    username = UsernameField(
        label=_("User name"),
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only. Used to log in."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Password (again)"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    field_order = ("username", "password1", "password2", *ProfileFieldsMixin.PROFILE_FIELDS)

    def clean_username(self) -> str:
        from django.contrib.auth.validators import UnicodeUsernameValidator

        username = self.cleaned_data["username"]
        UnicodeUsernameValidator()(username)
        return username

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", ERR_PASSWORD_MISMATCH)
        elif p1:
            from django.contrib.auth import get_user_model

            candidate = get_user_model()(username=cleaned.get("username") or "")
            try:
                password_validation.validate_password(p1, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class ProfileForm(ProfileFieldsMixin):
    email = forms.EmailField(label=_("E-mail address"), required=False, help_text=_("Only for notifications."))
    email_notifications = forms.BooleanField(
        label=_("E-mail me when a session is matched, moved, cancelled or about to start"), required=False
    )
    email_language = forms.ChoiceField(label=_("Language of the e-mails"), choices=settings.LANGUAGES, required=False)

    NOTIFICATION_FIELDS = ("email", "email_notifications", "email_language")

    @classmethod
    def for_profile(cls, profile: Profile, data=None) -> "ProfileForm":
        initial = {name: getattr(profile, name) for name in cls.PROFILE_FIELDS}
        initial.update(
            email=profile.user.email,
            email_notifications=profile.email_notifications,
            email_language=profile.email_language,
        )
        return cls(data=data, initial=initial)

    def notification_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.NOTIFICATION_FIELDS}
        data["email_language"] = data["email_language"] or self.initial.get("email_language") or settings.LANGUAGE_CODE
        return data


class SlotForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role I want to play"), choices=Role.choices, widget=forms.RadioSelect, initial=Role.COUNSELOR
    )
    starts_at = _datetime_field(_("Available from"))
    ends_at = _datetime_field(_("Available until"))


class SuicidalIdeationField(forms.TypedChoiceField):
    CHOICES = (("", _("Not set (the client decides)")), ("yes", _("Yes")), ("no", _("No")))

    def __init__(self, **kwargs):
        super().__init__(
            choices=self.CHOICES,
            coerce=lambda v: {"yes": True, "no": False}.get(v),
            empty_value=None,
            required=False,
            **kwargs,
        )

    def prepare_value(self, value):
        return {True: "yes", False: "no"}.get(value, "")


class SessionSetupForm(forms.Form):
    topic = forms.ChoiceField(
        label=_("Topic"),
        choices=[("", _("Not set (the client decides)")), *Topic.choices],
        required=False,
    )
    topic_sub = forms.CharField(label=_("Sub-topic"), max_length=200, required=False)
    client_state = forms.CharField(
        label=_("Client's psychological state"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Invented scenario only, e.g. mood, sleep, what happened recently."),
    )
    suicidal_ideation = SuicidalIdeationField(label=_("Suicidal ideation present"))
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"),
        validators=[MinValueValidator(MIN_DURATION_MINUTES), MaxValueValidator(MAX_DURATION_MINUTES)],
        widget=forms.NumberInput(attrs={"min": MIN_DURATION_MINUTES, "max": MAX_DURATION_MINUTES, "step": 5}),
    )

    @classmethod
    def for_session(cls, session: Session, data=None) -> "SessionSetupForm":
        initial = {
            "topic": session.topic,
            "topic_sub": session.topic_sub,
            "client_state": session.client_state,
            "suicidal_ideation": session.suicidal_ideation,
            "duration_minutes": session.duration_minutes,
        }
        return cls(data=data, initial=initial)


class RescheduleForm(forms.Form):
    starts_at = _datetime_field(_("New start"))


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the matching form fields (or on top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
