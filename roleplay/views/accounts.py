"""Sign-up, log-in (with the django-axes lockout page) and the profile page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kokoro_site.ratelimit import rate_allow
from roleplay.forms import ProfileForm, SignupForm, add_service_errors
from roleplay.services.accounts import profile_ensure, profile_notifications_update, profile_update, user_signup

MSG_SIGNED_UP = _("Welcome! Your account has been created.")
MSG_PROFILE_SAVED = _("Your profile has been saved.")
LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOCKOUT_STATUS = 429
ERR_RESET_TOO_MANY = _("Too many password reset requests. Please try again later.")


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

    def post(self, request, *args, **kwargs):
        if ip_locked_out(request):  # too many failures from this address, whatever the user names
            return lockout_response(request)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if getattr(self.request, "axes_locked_out", False):
            response = lockout_response(self.request, credentials=getattr(self.request, "axes_credentials", None))
            # Handled here: the axes middleware must not replace our page with its plain-text one.
            self.request.axes_locked_out = False
            return response
        return super().form_invalid(form)


def client_ip(request: HttpRequest) -> str:
    return getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR", "")


def ip_locked_out(request: HttpRequest) -> bool:
    """``KOKORO_LOGIN_IP_FAILURE_LIMIT`` failed log-ins from this IP within the cool-off, summed
    over every user name (django-axes' own count is per user name + IP)."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt
    from django.db.models import Sum

    cool_off = get_cool_off(request)
    attempts = AccessAttempt.objects.filter(ip_address=client_ip(request))
    if cool_off:
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off)
    failures = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
    return failures >= settings.KOKORO_LOGIN_IP_FAILURE_LIMIT


class KokoroPasswordResetView(PasswordResetView):
    """Django's password reset, limited per e-mail address and per client IP (429 beyond)."""

    def form_valid(self, form):
        window = settings.KOKORO_PASSWORD_RESET_WINDOW_S
        address = form.cleaned_data["email"].strip().lower()
        allowed = rate_allow(
            key=f"reset-ip:{client_ip(self.request)}", limit=settings.KOKORO_PASSWORD_RESET_PER_IP, window_s=window
        ) and rate_allow(
            key=f"reset-address:{address}", limit=settings.KOKORO_PASSWORD_RESET_PER_ADDRESS, window_s=window
        )
        if not allowed:
            form.add_error(None, ERR_RESET_TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


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
