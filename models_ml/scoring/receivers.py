from roleplay.models import Session, SessionSource

from .services import prediction_request


def on_session_ended(sender, session_id: int, **kwargs) -> None:
    """Queue the auto-scorer for a finished role-play with a person in it (imported sessions are training
    data; simulated ones are LLM-to-LLM and have nobody to show a prediction to)."""
    source = Session.objects.filter(pk=session_id).values_list("source", flat=True).first()
    if source is None or source in (SessionSource.IMPORTED, SessionSource.SIMULATED):
        return
    prediction_request(session_id=session_id)
