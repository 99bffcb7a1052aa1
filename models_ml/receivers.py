from roleplay.models import Session, SessionSource

from .services import prediction_request


def on_session_ended(sender, session_id: int, **kwargs) -> None:
    """Queue the auto-scorer for a finished human role-play (imported sessions are training data)."""
    source = Session.objects.filter(pk=session_id).values_list("source", flat=True).first()
    if source is None or source == SessionSource.IMPORTED:
        return
    prediction_request(session_id=session_id)
