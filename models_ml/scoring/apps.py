from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    """Predictions, scorer versions, the CPU and LLM scorers and their evaluation.

    The label stays ``models_ml`` (the app's label before the split), so its tables
    (``models_ml_prediction``, ``models_ml_scorermodel``) and migrations keep working.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.scoring"
    label = "models_ml"
    verbose_name = _("Auto-scorer")

    def ready(self) -> None:
        from kokoro_site.panels import panel_register
        from models_ml.jobs.services import job_type_register
        from roleplay.signals import session_ended

        from . import (
            backends,  # noqa: F401  (registers the "cpu" and "llm" backends)
            receivers,
            services,
        )
        from .models import ScorerTrainingJob

        job_type_register(
            key="scorer_training", model=ScorerTrainingJob, stale_after_s=services.scorer_training_stale_after_s
        )
        session_ended.connect(receivers.on_session_ended, dispatch_uid="models_ml.score_on_session_end")
        panel_register(
            slot="feedback.result", name="scoring.prediction", template="models_ml/_prediction_panel.html", order=10
        )
        panel_register(
            slot="practice.review", name="scoring.prediction", template="models_ml/_prediction_panel.html", order=10
        )
