"""Sign-up, log-in (with the django-axes lockout page) and the profile page."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from roleplay.forms import ProfileForm, SignupForm, add_service_errors
from roleplay.services.accounts import profile_ensure, profile_notifications_update, profile_update, user_signup

MSG_SIGNED_UP = _("Welcome! Your account has been created.")
MSG_PROFILE_SAVED = _("Your profile has been saved.")
LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOCKOUT_STATUS = 429


def lockout_context(request: HttpRequest, credentials: dict | None = None) -> dict:
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    return {
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": int(cool_off.total_seconds() // 60) if cool_off else None,
    }


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """Usable as ``AXES_LOCKOUT_CALLABLE`` so that every log-in form (admin too) shows our page."""
    return render(request, LOCKOUT_TEMPLATE, lockout_context(request, credentials), status=LOCKOUT_STATUS)


class KokoroLoginView(LoginView):
    """Django's LoginView passes ``request`` to ``authenticate``, which django-axes needs."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        if getattr(self.request, "axes_locked_out", False):
            response = lockout_response(self.request, credentials=getattr(self.request, "axes_credentials", None))
            # Handled here: the axes middleware must not replace our page with its plain-text one.
            self.request.axes_locked_out = False
            return response
        return super().form_invalid(form)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("roleplay:dashboard")
    form = SignupForm(data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_signup(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"], **form.profile_data()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, MSG_SIGNED_UP)
            return redirect("roleplay:dashboard")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    current = profile_ensure(user=request.user)
    form = ProfileForm.for_profile(current, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                profile_update(user=request.user, **form.profile_data())
                profile_notifications_update(user=request.user, **form.notification_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, MSG_PROFILE_SAVED)
            return redirect("profile")
    return render(request, "roleplay/profile.html", {"form": form, "profile": current})
