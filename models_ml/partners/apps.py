from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.partners"
    label = "partners"
    verbose_name = _("Fine-tuning and practice partners")

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (connects the task_failure handler of the GPU task)
