"""The "synthetic" export: KokoroChat's layout for simulated sessions, which have no client review.

``{"dialogue": [...], "topic": {"main_jp", "main_en", "sub"} | null, "review_by_client_jp": null,
"review_by_client_en": null, "synthetic": {...}}`` — the ``synthetic`` block (job, role card, models, ending) and
the null reviews keep these files apart from the human dataset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from roleplay.models import Message
from roleplay.topics import TOPIC_LABELS

from .models import JobStatus, SimulatedSession


def simulated_objects(*, job_id: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    tz = ZoneInfo(settings.TIME_ZONE)
    items = SimulatedSession.objects.filter(status=JobStatus.SUCCEEDED, session__isnull=False).select_related(
        "session", "role_card", "job__client_version", "job__counselor_version"
    )
    if job_id is not None:
        items = items.filter(job_id=job_id)
    for item in items.order_by("session_id"):
        session = item.session
        rows = Message.objects.filter(session=session).order_by("seq").values_list("role", "created_at", "text")
        topic = None
        if session.topic:
            jp, en = TOPIC_LABELS[session.topic]
            topic = {"main_jp": jp, "main_en": en, "sub": session.topic_sub}
        yield (
            session.pk,
            {
                "dialogue": [
                    {"role": role, "time": at.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S"), "utterance": text}
                    for role, at, text in rows
                ],
                "topic": topic,
                "review_by_client_jp": None,
                "review_by_client_en": None,
                "synthetic": {
                    "simulation_job": item.job_id,
                    "role_card": item.role_card.name if item.role_card else None,
                    "client_model": str(item.job.client_version or "default"),
                    "counselor_model": str(item.job.counselor_version or "default"),
                    "end": item.end,
                    "closing_phrase": item.closing_phrase or None,
                },
            },
        )
