from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinetuningConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.finetuning"
    label = "partners"
    verbose_name = _("Fine-tuning, model versions and role cards")

    def ready(self) -> None:
        from models_ml.jobs.services import job_type_register

        from . import services, tasks  # noqa: F401  (tasks: connects the task_failure handler of the GPU task)
        from .models import FineTuneJob, RetrievalIndexJob

        job_type_register(key="finetune", model=FineTuneJob, stale_after_s=services.stale_after_s)
        job_type_register(
            key="retrieval_index", model=RetrievalIndexJob, stale_after_s=services.retrieval_index_stale_after_s
        )
