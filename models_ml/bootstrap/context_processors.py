"""``setup_notice``: on every page while the first-run set-up runs, what is being prepared and about when
it is ready (the banner of ``base.html``). Nothing for anonymous visitors; one small query otherwise."""

from __future__ import annotations

from django.db import DatabaseError


def setup_notice(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .selectors import active_setup, setup_eta

    try:
        run = active_setup()
    except DatabaseError:  # the page of a database outage renders without it
        return {}
    if run is None:
        return {}
    eta = setup_eta(run)
    return {"setup_notice": {"run": run, "minutes": max(1, round(eta.total_seconds() / 60)) if eta else None}}
