from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoachingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.coaching"
    label = "coaching"
    verbose_name = _("Coaching")

    def ready(self) -> None:
        from roleplay.signals import message_created

        from . import panels, receivers

        panels.register_panels()
        message_created.connect(receivers.on_message_created, dispatch_uid="coaching.on_message_created")
