from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from models_ml.jobs.models import Job


class ScorerModel(models.Model):
    """One trained scorer version (its files live under KOKORO_ARTIFACTS_DIR/scorer/<version>/)."""

    version = models.CharField(max_length=80, unique=True)
    backend = models.CharField(max_length=10, default="cpu")
    created_at = models.DateTimeField(default=timezone.now)
    # Relative to KOKORO_ARTIFACTS_DIR, so a moved artifacts folder keeps working.
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    train_size = models.PositiveIntegerField(default=0)
    feature_config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    is_active = models.BooleanField(default=False)
    # The language of the texts it was trained on ("ja": the dataset; "en": its English translation);
    # a session is scored by the active model of its own language.
    language = models.CharField(max_length=16, default="ja")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "language"], condition=Q(is_active=True), name="scorer_one_active_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"


class PredictionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")
    WAITING = "waiting", _("Waiting for the auto-scorer")  # no active scorer yet: scored once one is active


class Prediction(models.Model):
    """The auto-scorer's prediction of the client's rating of one session."""

    session = models.OneToOneField("roleplay.Session", on_delete=models.CASCADE, related_name="prediction")
    status = models.CharField(max_length=10, choices=PredictionStatus.choices, default=PredictionStatus.PENDING)
    reason = models.TextField(blank=True, default="")
    backend = models.CharField(max_length=10, default="cpu")
    model_version = models.CharField(max_length=80, blank=True, default="")
    items = models.JSONField(default=list)  # 20 integers 0-5, feedback.items.ITEMS order
    total = models.PositiveSmallIntegerField(null=True, blank=True)
    screening = models.JSONField(default=dict)  # {"S1": probability, ...}
    flags = models.JSONField(default=dict)  # {"S1": bool, ...}
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Prediction {self.session_id} ({self.status})"

    @property
    def reason_text(self) -> str:
        """``reason`` (stored in English) in the reader's language."""
        from .presenters import reason_text

        return reason_text(self.reason)

    @property
    def any_flag(self) -> bool:
        return any(self.flags.values())


class ScorerTrainingJob(Job):
    """Train the CPU scorer on the database's labelled sessions in the background (progress on the job)."""

    min_sessions = models.PositiveIntegerField(_("minimum labelled sessions"), default=50)
    seed = models.PositiveIntegerField(_("seed of the training/validation split"), default=0)
    activate = models.BooleanField(_("activate when trained"), default=True)
    scorer_model = models.ForeignKey(
        ScorerModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("result")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("scorer training")
        verbose_name_plural = _("scorer trainings")

    def __str__(self) -> str:
        return f"scorer training #{self.pk} ({self.status})"
