from django.apps import AppConfig


class ModelsMlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml"
