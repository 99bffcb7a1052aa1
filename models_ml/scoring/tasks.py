from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.utils.translation import gettext_lazy as _

from roleplay.models import Session

from . import services

ERR_TIMEOUT = _("Scoring took too long and was stopped.")
ERR_UNEXPECTED = _("Scoring failed unexpectedly.")


@shared_task(name="models_ml.scoring.tasks.score_session", soft_time_limit=120, time_limit=150, ignore_result=True)
def score_session(session_id: int) -> str:
    """Score one ended session; the outcome is stored on its Prediction row (never raises)."""
    if not Session.objects.filter(pk=session_id).exists():
        return "missing"
    try:
        return services.prediction_compute(session_id=session_id).status
    except SoftTimeLimitExceeded:
        services.prediction_fail(session_id=session_id, reason=ERR_TIMEOUT)
    except Exception:
        services.logger.exception("scoring session %s failed", session_id)
        services.prediction_fail(session_id=session_id, reason=ERR_UNEXPECTED)
    return "failed"


@shared_task(bind=True, name="models_ml.scoring.tasks.train_scorer", soft_time_limit=55 * 60, time_limit=60 * 60)
def train_scorer(self, job_id: int) -> str:
    """One ``ScorerTrainingJob`` (JSON args: its id); the outcome is stored on the job."""
    return services.scorer_training_job_execute(
        job_id=job_id, task_id=self.request.id or "", hostname=self.request.hostname or ""
    )


@shared_task(name="models_ml.scoring.tasks.rescore_waiting", soft_time_limit=10 * 60, time_limit=11 * 60)
def rescore_waiting() -> int:
    """A scorer became active: score every session whose prediction waited for one."""
    return services.predictions_waiting_rescore()
