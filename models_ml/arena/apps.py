from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArenaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.arena"
    label = "arena"
    verbose_name = _("Simulation, arena and evaluation")

    def ready(self) -> None:
        from models_ml.jobs.services import job_type_register

        from . import services
        from .models import EvalJob, JudgeJob, LabelJob, SimulationJob

        for key, model in (("simulation", SimulationJob), ("judge", JudgeJob), ("eval", EvalJob), ("label", LabelJob)):
            job_type_register(key=f"arena_{key}", model=model, stale_after_s=services.stale_after_s)
