"""Access rules shared by every app: the one ``staff_required`` and the page that explains a refusal."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

ERR_STAFF_ONLY = _("This page is for administrators.")


def error_page(request: HttpRequest, message: Any, *, status: int, **context: Any) -> HttpResponse:
    """The readable refusal page (``templates/error.html``): ``message``, a way back, ``status``.

    Extra context: ``session`` and ``room_url`` (a "Back to the session" button)."""
    return render(request, "error.html", {"message": message, **context}, status=status)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the log-in page; signed-in non-staff get a 403 page that says why."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            return error_page(request, ERR_STAFF_ONLY, status=403)
        return view(request, *args, **kwargs)

    return wrapped
