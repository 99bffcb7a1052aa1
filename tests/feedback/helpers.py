"""Shared helpers of the feedback tests."""

from django.utils import timezone

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from feedback.models import Feedback
from roleplay.models import Role, SessionStatus
from tests.factories import MessageFactory, SessionFactory


def ended_session(*, messages: bool = True, **kwargs):
    """An ended session that took place: by default one message from each side (feedback needs both)."""
    session = SessionFactory(status=SessionStatus.ENDED, ended_at=timezone.now(), **kwargs)
    if messages:
        MessageFactory(session=session, seq=1, role=Role.COUNSELOR, sender=session.counselor, text="Hello.")
        MessageFactory(session=session, seq=2, role=Role.CLIENT, sender=session.client, text="Hi.")
        session.last_seq = 2
        session.save(update_fields=["last_seq"])
    return session


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
