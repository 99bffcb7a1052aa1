from django.apps import AppConfig


class ModelsMlConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "models_ml"

    def ready(self) -> None:
        from kokoro_site.panels import panel_register
        from roleplay.signals import session_ended

        from . import receivers
        from .scoring import backends  # noqa: F401  (registers the "cpu" and "llm" backends)

        session_ended.connect(receivers.on_session_ended, dispatch_uid="models_ml.score_on_session_end")
        panel_register(
            slot="feedback.result", name="scoring.prediction", template="models_ml/_prediction_panel.html", order=10
        )
