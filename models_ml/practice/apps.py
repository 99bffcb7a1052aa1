from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PracticeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.practice"
    label = "practice"
    verbose_name = _("AI practice partners")

    def ready(self) -> None:
        from models_ml.jobs.services import reaper_register
        from roleplay.signals import message_created, message_interest_register

        from . import panels, receivers, services

        # A reply whose worker was lost becomes a retryable error (the jobs' one periodic reaper runs it).
        reaper_register(key="practice_replies", reap=services.practice_replies_reap_stale)

        panels.register_panels()
        message_created.connect(receivers.on_message_created, dispatch_uid="practice.on_message_created")
        message_interest_register(key="practice", interest=receivers.wants_messages)
