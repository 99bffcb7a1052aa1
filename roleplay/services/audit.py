"""Audit of staff reads of single transcripts (docs/security.md)."""

from django.db import transaction

from roleplay.models import TranscriptRead, TranscriptReadChannel


@transaction.atomic
def transcript_read_log(*, user, session_id: int, channel: TranscriptReadChannel) -> TranscriptRead:
    """One row per read of one session's transcript by ``user`` through ``channel``."""
    return TranscriptRead.objects.create(user=user, session_id=session_id, channel=channel)
