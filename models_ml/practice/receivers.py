"""Signal receivers: a trainee's message in an AI session queues the partner's reply."""

from __future__ import annotations

from . import selectors, services


def on_message_created(sender, *, session_id: int, seq: int, role: str, **kwargs) -> None:
    practice = selectors.practice_for_session(session_id=session_id)
    if practice is None or role == practice.ai_role:
        return
    services.practice_reply_queue(practice=practice, after_seq=seq)
