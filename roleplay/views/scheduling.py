"""Dashboard, scheduling (slots and matches), session set-up, reschedule, cancel and history."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from roleplay.forms import RescheduleForm, SessionSetupForm, SlotForm, add_service_errors
from roleplay.models import AvailabilitySlot, Role, Session
from roleplay.selectors.scheduling import (
    open_demand,
    session_card,
    session_for_participant,
    sessions_past_for,
    sessions_upcoming_for,
    slot_for_owner,
    slots_open_for,
    slots_recent_for,
)
from roleplay.services import matching
from roleplay.services.matching import (
    ERR_SETUP_NOT_COUNSELOR,
    session_cancel,
    session_reschedule,
    session_setup_update,
    slot_cancel,
    slot_post,
)

MSG_SLOT_MATCHED = _("Matched! Your session with %(partner)s starts at %(start)s.")
MSG_SLOT_WAITING = _("Your time slot has been posted. We will pair you as soon as a partner is available.")
MSG_SLOT_CANCELLED = _("The time slot has been cancelled.")
MSG_SESSION_CANCELLED = _("The session has been cancelled. Your partner's time slot is open again.")
MSG_SESSION_RESCHEDULED = _("The session has been moved.")
MSG_SETUP_SAVED = _("The session set-up has been saved.")
HISTORY_PAGE_SIZE = 20


def _session_or_404(request: HttpRequest, pk: int) -> Session:
    try:
        return session_for_participant(user=request.user, pk=pk)
    except Session.DoesNotExist as exc:
        raise Http404 from exc


def _slot_or_404(request: HttpRequest, pk: int) -> AvailabilitySlot:
    try:
        return slot_for_owner(user=request.user, pk=pk)
    except AvailabilitySlot.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "upcoming": sessions_upcoming_for(user=request.user),
        "open_slots": slots_open_for(user=request.user),
        "recent": sessions_past_for(user=request.user)[:5],
    }
    return render(request, "roleplay/dashboard.html", context)


@login_required
def dashboard_upcoming(request: HttpRequest) -> HttpResponse:
    """The upcoming list alone, polled by htmx every 30 s."""
    return render(request, "roleplay/_upcoming.html", {"upcoming": sessions_upcoming_for(user=request.user)})


@login_required
def schedule(request: HttpRequest) -> HttpResponse:
    initial = _default_slot_times()
    preferred = getattr(getattr(request.user, "profile", None), "preferred_role", "")
    if preferred in (Role.COUNSELOR, Role.CLIENT):  # "either" keeps the form's default
        initial["role"] = preferred
    form = SlotForm(data=request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            slot, session = slot_post(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if session is not None:
                card = session_card(session=session, user=request.user)
                start = _localtime_label(session.starts_at)
                messages.success(request, MSG_SLOT_MATCHED % {"partner": card.partner_name, "start": start})
            else:
                messages.info(request, MSG_SLOT_WAITING)
            return redirect("roleplay:schedule")
    context = {
        "form": form,
        "slots": slots_recent_for(user=request.user),
        "upcoming": sessions_upcoming_for(user=request.user),
        "demand": open_demand(user=request.user),
        "session_minutes": matching.default_duration(),
    }
    return render(request, "roleplay/schedule.html", context)


def _default_slot_times() -> dict:
    """From the next quarter hour (Japan time) for two hours: one click posts a useful slot."""
    now = timezone.localtime()
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=15 - now.minute % 15)
    return {"starts_at": start, "ends_at": start + timedelta(hours=2)}


def _localtime_label(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


@require_POST
@login_required
def slot_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    slot = _slot_or_404(request, pk)
    try:
        slot_cancel(slot=slot, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, MSG_SLOT_CANCELLED)
    return redirect(_next_or(request, "roleplay:schedule"))


@require_POST
@login_required
def session_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_or_404(request, pk)
    try:
        session_cancel(session=session, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, MSG_SESSION_CANCELLED)
    return redirect(_next_or(request, "roleplay:dashboard"))


def _next_or(request: HttpRequest, default: str) -> str:
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(
        nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return nxt
    return reverse(default)


@login_required
def session_reschedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_or_404(request, pk)
    card = session_card(session=session, user=request.user)
    form = RescheduleForm(data=request.POST or None, initial={"starts_at": session.starts_at})
    if request.method == "POST" and form.is_valid():
        try:
            session_reschedule(session=session, user=request.user, starts_at=form.cleaned_data["starts_at"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, MSG_SESSION_RESCHEDULED)
            return redirect("roleplay:dashboard")
    return render(request, "roleplay/reschedule.html", {"form": form, "card": card})


@login_required
def session_setup(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_or_404(request, pk)
    card = session_card(session=session, user=request.user)
    form = SessionSetupForm.for_session(session, data=request.POST or None)
    status = 200
    if request.method == "POST":
        if not card.is_counselor:
            form.add_error(None, ERR_SETUP_NOT_COUNSELOR)
            status = 403
        elif form.is_valid():
            try:
                session_setup_update(session=session, user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, MSG_SETUP_SAVED)
                return redirect("roleplay:session_setup", pk=session.pk)
    context = {"form": form, "card": card, "session": session, "editable": card.is_counselor and card.can_change}
    return render(request, "roleplay/setup.html", context, status=status)


@login_required
def history(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(sessions_past_for(user=request.user), HISTORY_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    cards = [session_card(session=s, user=request.user) for s in page.object_list]
    return render(request, "roleplay/history.html", {"page": page, "cards": cards})
