from django.dispatch import Signal

# Sent after the transaction that ended a session commits; kwargs: session_id.
# Receivers (feedback, auto-scorer, coaching) subscribe in their AppConfig.ready().
session_ended = Signal()

# Sent after the transaction that stored a NEW chat message commits (not for an idempotent resend);
# kwargs: session_id, message_id, seq, role, sender_id, source (Session.source). The AI practice partners subscribe to it.
message_created = Signal()
