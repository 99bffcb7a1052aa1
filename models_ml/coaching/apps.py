from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoachingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.coaching"
    label = "coaching"
    verbose_name = _("Coaching")

    def ready(self) -> None:
        from models_ml.jobs.services import job_type_register
        from roleplay.signals import message_created, message_interest_register

        from . import panels, receivers, services
        from .models import SuggestionRun

        job_type_register(
            key="coaching_suggestions", model=SuggestionRun, stale_after_s=services.suggestions_stale_after_s
        )

        panels.register_panels()
        message_created.connect(receivers.on_message_created, dispatch_uid="coaching.on_message_created")
        message_interest_register(key="coaching", interest=receivers.wants_messages)
