from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BootstrapConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.bootstrap"
    label = "bootstrap"
    verbose_name = _("Set-up")

    def ready(self) -> None:
        from models_ml.jobs.services import job_type_register

        from . import services
        from .models import DatasetImportJob, SetupRun

        job_type_register(key="dataset_import", model=DatasetImportJob, stale_after_s=services.import_stale_after_s)
        job_type_register(key="setup_run", model=SetupRun, stale_after_s=services.setup_stale_after_s)
