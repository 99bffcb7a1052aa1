from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArenaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml.arena"
    label = "arena"
    verbose_name = _("Simulation, arena and evaluation")
