"""Shared helpers of the feedback tests."""

from django.utils import timezone

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from feedback.models import Feedback
from roleplay.models import SessionStatus
from tests.factories import SessionFactory


def ended_session(**kwargs):
    return SessionFactory(status=SessionStatus.ENDED, ended_at=timezone.now(), **kwargs)


def values(default: int = 4, **overrides) -> dict[str, int]:
    data = dict.fromkeys(ITEM_FIELDS, default)
    data.update(overrides)
    return data


def no_screenings(**overrides) -> dict[str, bool]:
    data = dict.fromkeys(SCREENING_FIELDS, False)
    data.update(overrides)
    return data


def db_snapshot() -> list[tuple]:
    """Every stored feedback row, to show that a refused submission changed nothing."""
    return list(Feedback.objects.order_by("pk").values_list())
