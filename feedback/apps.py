from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"

    def ready(self) -> None:
        from roleplay.demo import demo_seeder_register

        from .demo import demo_rated_sessions_seed

        demo_seeder_register(name="feedback.rated_sessions", seeder=demo_rated_sessions_seed)
