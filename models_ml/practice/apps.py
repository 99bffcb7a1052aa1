from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PracticeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.practice"
    label = "practice"
    verbose_name = _("AI practice partners")

    def ready(self) -> None:
        from roleplay.signals import message_created

        from . import panels, receivers

        panels.register_panels()
        message_created.connect(receivers.on_message_created, dispatch_uid="practice.on_message_created")
