from django.dispatch import Signal

# Sent after the transaction that ended a session commits; kwargs: session_id.
# Higher apps subscribe in their AppConfig.ready() (today the auto-scorer, which queues the prediction).
session_ended = Signal()

# Sent after the transaction that stored a NEW chat message commits (not for an idempotent resend);
# kwargs: session_id, message_id, seq, role, sender_id, source (Session.source).
# Higher apps subscribe in their AppConfig.ready() (today the AI practice partners and live coaching).
message_created = Signal()

# Which sessions' new messages a receiver of message_created wants (the chat socket sends the signal
# only then: a message no receiver wants costs no database-thread hop, issue 19). A higher app
# registers ``interest(session_id=, role=, source=) -> bool`` in its AppConfig.ready(); it may read
# the database (it runs on a database thread, when a socket joins and again every
# KOKORO_CHAT_INTEREST_S seconds, and at once after ``roleplay.notify.session_interest_changed``).
_interests: dict[str, object] = {}


def message_interest_register(*, key: str, interest) -> None:
    _interests[key] = interest


def message_interest(*, session_id: int, role: str, source: str | None) -> bool:
    """Does any receiver want the messages ``role`` sends in this session (database thread)?"""
    return any(interest(session_id=session_id, role=role, source=source) for interest in list(_interests.values()))
