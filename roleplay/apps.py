from django.apps import AppConfig


class RoleplayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roleplay"
