"""Feedback's part of ``manage.py seed_demo``: three rated past role-plays of the demo pair.

They give the demo counselor a results history and the built-in AI practice partner something to
answer from on a fresh install. Registered in ``FeedbackConfig.ready()`` (see ``roleplay.demo``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from roleplay.models import EndReason, Session, SessionStatus
from roleplay.services.chat import messages_record
from roleplay.services.sessions import session_create_ended

from .demo_dialogues import DIALOGUES, DemoDialogue
from .items import ITEM_FIELDS
from .services import feedback_submit


def _past_session(counselor, client, dialogue: DemoDialogue, now: datetime) -> Session:
    """An ended role-play with its messages (a minute apart) and the client's feedback."""
    starts = timezone.localtime(now).replace(hour=19, minute=0, second=0, microsecond=0)
    starts -= timedelta(days=dialogue.days_ago)
    session = session_create_ended(
        counselor=counselor,
        client=client,
        starts_at=starts,
        ended_at=starts + timedelta(minutes=len(dialogue.turns) + 1),
        end_reason=EndReason.COUNSELOR,
        topic=dialogue.topic,
    )
    messages_record(
        session_id=session.pk,
        turns=[
            (role, text, starts + timedelta(minutes=seq)) for seq, (role, text) in enumerate(dialogue.turns, start=1)
        ],
    )
    session.refresh_from_db()
    feedback = feedback_submit(
        session=session, client=client, values=dict(zip(ITEM_FIELDS, dialogue.items, strict=True)), screenings={}
    )
    feedback.created_at = session.ended_at + timedelta(minutes=5)  # submitted right after that session
    feedback.save(update_fields=["created_at"])
    return session


def demo_rated_sessions_seed(*, counselor, client, now: datetime) -> list[str]:
    """The demo pair's rated past sessions (created once): a results history for the counselor, and what the
    built-in AI practice partner answers from until real data is imported."""
    pair = Session.objects.filter(counselor=counselor, client=client)
    rated = pair.filter(status=SessionStatus.ENDED, feedback__isnull=False).count()
    for dialogue in DIALOGUES[rated:]:
        _past_session(counselor, client, dialogue, now)
    past = max(rated, len(DIALOGUES))
    return [f"{past} rated past sessions (counselor ↔ client): results history and AI practice data"]
