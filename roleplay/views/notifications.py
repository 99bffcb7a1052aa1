"""The notification list, its unread badge (JSON for the live script) and "mark all as read"."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from roleplay.selectors.notifications import notifications_for, unread_count
from roleplay.services.notifications import email_configured, notifications_mark_read


@require_GET
@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    profile = getattr(request.user, "profile", None)
    context = {
        "notifications": notifications_for(user=request.user),
        "email_on": bool(request.user.email) and getattr(profile, "email_notifications", False),
        "email_configured": email_configured(),
    }
    return render(request, "roleplay/notifications.html", context)


@require_GET
@login_required
def notification_badge(request: HttpRequest) -> JsonResponse:
    """The unread count and the newest unread text (in the reader's language) for the live badge."""
    latest = next((n for n in notifications_for(user=request.user, limit=1) if n["unread"]), None)
    return JsonResponse({"unread": unread_count(user=request.user), "latest": latest["text"] if latest else ""})


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    notifications_mark_read(user=request.user)
    return redirect("roleplay:notifications")
