"""Signal receivers: a trainee's message in an AI session queues the partner's reply."""

from __future__ import annotations

from roleplay.models import SessionSource

from . import selectors, services


def on_message_created(sender, *, session_id: int, seq: int, role: str, source: str | None = None, **kwargs) -> None:
    if source is not None and source != SessionSource.AI:  # human role-plays: no query on the hot path
        return
    practice = selectors.practice_for_session(session_id=session_id)
    if practice is None or role == practice.ai_role:
        return
    services.practice_reply_queue(practice=practice, after_seq=seq)


def wants_messages(*, session_id: int, role: str, source: str | None) -> bool:
    """``roleplay.signals.message_interest``: the human's messages in an AI practice session."""
    return source == SessionSource.AI
