from django.dispatch import Signal

# Sent after the transaction that ended a session commits; kwargs: session_id.
# Receivers (feedback, auto-scorer, coaching) subscribe in their AppConfig.ready().
session_ended = Signal()
