from django.dispatch import Signal

# Sent after the transaction that ended a session commits; kwargs: session_id.
# Higher apps subscribe in their AppConfig.ready() (today the auto-scorer, which queues the prediction).
session_ended = Signal()

# Sent after the transaction that stored a NEW chat message commits (not for an idempotent resend);
# kwargs: session_id, message_id, seq, role, sender_id, source (Session.source).
# Higher apps subscribe in their AppConfig.ready() (today the AI practice partners and live coaching).
message_created = Signal()
