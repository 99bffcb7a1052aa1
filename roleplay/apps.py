from django.apps import AppConfig


class RoleplayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "roleplay"

    def ready(self) -> None:
        from roleplay.socket_auth import connect_signals

        connect_signals()
