"""Feedback reads: access checks for the pages, chart data, progress, staff lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from statistics import mean

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from roleplay.models import Session, SessionSource

from .items import (
    ASPECT_LABELS,
    ASPECTS,
    GROUP_LABELS,
    ITEM_MAX,
    ITEMS,
    SCREENINGS,
    item_label,
    screening_label,
)
from .models import Feedback

ERR_SESSION_NOT_FOUND = _("Session not found.")
ERR_RESULT_FORBIDDEN = _("Only the counselor-role participant of this session and administrators can see this result.")

# One colour per aspect (charts and the per-item list share them).
ASPECT_COLORS = {
    "validation": "#2f6fdf",
    "awareness": "#8e5bd6",
    "engagement": "#1f9d8a",
    "flow_comfort": "#e08a1e",
    "overall": "#d04a6c",
    "flow": "#5b8c2a",
    "skills": "#3a7ca5",
}


def session_get(*, session_id: int) -> Session:
    session = Session.objects.select_related("counselor__profile", "client__profile").filter(pk=session_id).first()
    if session is None:
        raise Http404(ERR_SESSION_NOT_FOUND)
    return session


def session_get_for_result(*, session_id: int, user) -> Session:
    """The session whose result ``user`` may see: its counselor-role participant or staff."""
    session = session_get_for_participant(session_id=session_id, user=user)
    if not (user.is_staff or (user.pk is not None and user.pk == session.counselor_id)):
        raise PermissionDenied(ERR_RESULT_FORBIDDEN)
    return session


def session_get_for_participant(*, session_id: int, user) -> Session:
    """The session if ``user`` takes part in it or is staff; 404 for anyone else, as for an
    unknown id (session ids cannot be enumerated, docs/security.md)."""
    session = session_get(session_id=session_id)
    if not user.is_staff and session.role_of(user) is None:
        raise Http404(ERR_SESSION_NOT_FOUND)
    return session


def feedback_for_session(*, session_id: int) -> Feedback | None:
    return Feedback.objects.filter(session_id=session_id).first()


# --- one result -----------------------------------------------------------------------------
def feedback_breakdown(feedback: Feedback) -> dict:
    """Items grouped by group and aspect, the screening flags, and the chart data."""
    groups: list[dict] = []
    for group, group_label in GROUP_LABELS.items():
        aspects = []
        for aspect in ASPECTS:
            items = [i for i in ITEMS if i.group == group and i.aspect == aspect]
            if not items:
                continue
            rows = [
                {
                    "number": i.number,
                    "label": item_label(i),
                    "value": getattr(feedback, i.field),
                    "percent": getattr(feedback, i.field) * 100 // ITEM_MAX,
                }
                for i in items
            ]
            aspects.append(
                {
                    "key": aspect,
                    "label": str(ASPECT_LABELS[aspect]),
                    "color": ASPECT_COLORS[aspect],
                    "items": rows,
                    "mean": round(mean(r["value"] for r in rows), 2),
                }
            )
        groups.append({"key": group, "label": str(group_label), "aspects": aspects})
    screenings = [
        {"code": s.code, "label": screening_label(s), "checked": bool(getattr(feedback, s.field))} for s in SCREENINGS
    ]
    return {"groups": groups, "screenings": screenings, "chart": item_chart_data(feedback.item_values)}


def item_chart_data(values: list[float]) -> dict:
    """Chart.js-ready data for the 20 items (one dataset per aspect, so the legend names aspects)."""
    labels = [f"{i.number}. {item_label(i)}" for i in ITEMS]
    datasets = []
    for aspect in ASPECTS:
        datasets.append(
            {
                "label": str(ASPECT_LABELS[aspect]),
                "data": [v if i.aspect == aspect else None for i, v in zip(ITEMS, values, strict=True)],
                "backgroundColor": ASPECT_COLORS[aspect],
            }
        )
    return {"labels": labels, "datasets": datasets, "max": ITEM_MAX}


# --- progress of one counselor ----------------------------------------------------------------
# AI practice and LLM simulations are kept out of a person's progress (human role-plays only).
NOT_HUMAN_SOURCES = (SessionSource.AI, SessionSource.SIMULATED)


def counselor_feedback(*, user) -> QuerySet[Feedback]:
    return (
        Feedback.objects.filter(counselor=user)
        .exclude(session__source__in=NOT_HUMAN_SOURCES)
        .exclude(session__is_synthetic=True)
        .select_related("session")
        .order_by("created_at", "pk")
    )


def counselor_progress(*, user) -> dict:
    """Totals over sessions and item / aspect averages for the counselor-role participant ``user``."""
    rows = list(counselor_feedback(user=user))
    if not rows:
        return {"count": 0, "rows": [], "charts": None}
    aspect_series = {
        a: [round(mean(getattr(f, i.field) for i in ITEMS if i.aspect == a), 2) for f in rows] for a in ASPECTS
    }
    item_means = [round(mean(getattr(f, i.field) for f in rows), 2) for i in ITEMS]
    aspect_means = [
        {
            "key": a,
            "label": str(ASPECT_LABELS[a]),
            "color": ASPECT_COLORS[a],
            "mean": round(mean(getattr(f, i.field) for f in rows for i in ITEMS if i.aspect == a), 2),
        }
        for a in ASPECTS
    ]
    totals = [f.total for f in rows]
    labels = [f"#{n} {timezone.localtime(f.created_at):%m/%d}" for n, f in enumerate(rows, start=1)]
    charts = {
        "totals": {"labels": labels, "values": totals, "sessions": [f.session_id for f in rows]},
        "items": item_chart_data(item_means),
        "aspects": {
            "labels": labels,
            "datasets": [
                {"label": str(ASPECT_LABELS[a]), "data": aspect_series[a], "borderColor": ASPECT_COLORS[a]}
                for a in ASPECTS
            ],
        },
    }
    return {
        "count": len(rows),
        "rows": list(reversed(rows)),
        "mean_total": round(mean(totals), 1),
        "best_total": max(totals),
        "last_total": totals[-1],
        "item_means": [
            {"number": i.number, "label": item_label(i), "aspect": str(ASPECT_LABELS[i.aspect]), "mean": m}
            for i, m in zip(ITEMS, item_means, strict=True)
        ],
        "aspect_means": aspect_means,
        "charts": charts,
    }


# --- staff lists ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackFilters:
    user: str = ""  # username, display name or dataset id of the counselor or client
    screening: str = ""  # "", "any", or a screening code S1/S2/S3
    date_from: date | None = None
    date_to: date | None = None
    total_min: int | None = None
    total_max: int | None = None


SCREENING_BY_CODE = {s.code: s for s in SCREENINGS}


def screening_q() -> Q:
    q = Q()
    for s in SCREENINGS:
        q |= Q(**{s.field: True})
    return q


def feedback_list(*, filters: FeedbackFilters | None = None) -> QuerySet[Feedback]:
    f = filters or FeedbackFilters()
    qs = (
        Feedback.objects.select_related("session", "counselor__profile", "client__profile")
        .prefetch_related("reviews__reviewer__profile")
        .order_by("-created_at", "-pk")
    )
    if f.user:
        term = f.user.strip()
        q = Q()
        for who in ("counselor", "client"):
            q |= Q(**{f"{who}__username__icontains": term}) | Q(**{f"{who}__profile__display_name__icontains": term})
            if term.isdigit():
                q |= Q(**{f"{who}__profile__dataset_id": int(term)}) | Q(**{f"{who}__profile__research_id": int(term)})
        qs = qs.filter(q)
    if f.screening == "any":
        qs = qs.filter(screening_q())
    elif f.screening in SCREENING_BY_CODE:
        qs = qs.filter(**{SCREENING_BY_CODE[f.screening].field: True})
    tz = timezone.get_current_timezone()
    if f.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(f.date_from, time.min, tzinfo=tz))
    if f.date_to:
        qs = qs.filter(created_at__lte=datetime.combine(f.date_to, time.max, tzinfo=tz))
    if f.total_min is not None:
        qs = qs.filter(total__gte=f.total_min)
    if f.total_max is not None:
        qs = qs.filter(total__lte=f.total_max)
    return qs


def screened_feedback(*, screening: str = "any") -> QuerySet[Feedback]:
    """Feedback with any (or one given) screening item checked: the monitoring list."""
    return feedback_list(filters=FeedbackFilters(screening=screening if screening in SCREENING_BY_CODE else "any"))


def screening_counts() -> list[dict]:
    return [
        {"code": s.code, "label": screening_label(s), "count": Feedback.objects.filter(**{s.field: True}).count()}
        for s in SCREENINGS
    ]


def session_transcript_url(session_id: int) -> str:
    """The dataset viewer's transcript page when it exists, else the admin page of the session."""
    try:
        return reverse("dataset:session_detail", args=[session_id])
    except NoReverseMatch:
        return reverse("admin:roleplay_session_change", args=[session_id])
